"""pdfgen handler: contract, review and reST requests give real PDFs with the text that was sent."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest

from daemons.pdfgen import handler as pdfgen
from daemons.pdfgen.contract import ContractError
from daemons.pdfgen.review import ReviewError
from daemons.rpc.handler import HandlerContext
from daemons.rpc.wire import StructureRegistry, deserialize

CONTRACT = pdfgen.GenerateContract(
    firma="Nakladatelství Žluťoučký kůň, s.r.o.", pravni_forma="společnost s ručením omezeným",
    sidlo="Řeznická 12, 110 00 Praha 1", ic="27182818", dic="CZ27182818", zastoupen="Ing. Jiří Čermák, jednatel",
)
REVIEW_FIELDS: dict[str, Any] = {
    "ISBN": "978-80-7203-125-0", "invalid_ISBN": None, "id_number": "ep-4711", "nazev": "Příliš žluťoučký kůň",
    "podnazev": "úpěl ďábelské ódy", "vazba": "online", "cena": "149", "castDil": "2", "nazevCasti": "Ódy",
    "nakladatelVydavatel": "Nakladatelství Šťastná čtvrť", "datumVydani": "2024", "poradiVydani": "1. vydání",
    "zpracovatelZaznamu": "Zdeňka Řeháková", "format": "EPUB", "url": "https://localhost/kniha",
    "mistoVydani": "Ústí nad Labem", "ISBNSouboruPublikaci": "978-80-7203-999-9",
    "autori": [{"firstName": "Jan", "lastName": "Novák", "title": "PhDr."}, "Petr Čech"],
    "originaly": ["kun.epub"], "internal_url": "http://localhost:8080/e-deposit/epublikace/4711",
    "anotace": "Kniha o koni, který úpěl.",
}


def read_pdf(answer: Any) -> pypdf.PdfReader:
    """The PDF inside a PDF(b64_content) answer; fails when it does not parse."""
    assert type(answer).__name__ == "PDF" or answer.get("__nt_name") == "PDF"
    content = answer.b64_content if hasattr(answer, "b64_content") else answer["b64_content"]
    data = base64.b64decode(content, validate=True)
    assert data.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(data), strict=True)


def page_texts(reader: pypdf.PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def flat(text: str) -> str:
    """Extracted text with line breaks folded into spaces, to look for values that wrapped."""
    return " ".join(text.split())


def assert_page_numbers(texts: list[str], pattern: str) -> None:
    """Every page's footer names its own number and the real page count."""
    for number, text in enumerate(texts, start=1):
        found = re.search(pattern, text)
        assert found, f"no page number on page {number}: {text[-200:]!r}"
        assert (int(found.group(1)), int(found.group(2))) == (number, len(texts))


def context(**options: Any) -> HandlerContext:
    values = {"font_dir": None, "contract_template": None, **options}
    return HandlerContext(name="pdfgen", options=values, data_dir=Path("/nonexistent"), state_dir=Path("/nonexistent"),
                          log=logging.getLogger("test.pdfgen"))


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    pdfgen.configure(context())
    yield
    pdfgen.configure(context())


def test_contract_contains_every_field_with_czech_diacritics() -> None:
    reader = read_pdf(pdfgen.react(CONTRACT, [].append))
    texts = page_texts(reader)
    whole = flat(" ".join(texts))
    for value in CONTRACT[:6]:
        assert value in whole
    assert "Licenční smlouva o dodávání" in whole
    assert_page_numbers(texts, r"strana (\d+) z (\d+)")
    assert reader.metadata.title == CONTRACT.firma


def test_contract_values_are_shown_literally_not_read_as_markup(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    hostile = CONTRACT._replace(firma=f"**Tučná** `odkaz <http://localhost/>`_\n\n.. include:: {secret}",
                                sidlo="1. první\n- druhá")
    whole = flat(" ".join(page_texts(read_pdf(pdfgen.react(hostile, [].append)))))
    assert f"**Tučná** `odkaz <http://localhost/>`_ .. include:: {secret}" in whole
    assert "1. první - druhá" in whole
    assert "TOP-SECRET-CONTENT" not in whole


def test_contract_without_firma_is_refused_naming_the_field() -> None:
    with pytest.raises(ContractError, match=r"GenerateContract\.firma is empty"):
        pdfgen.react(CONTRACT._replace(firma="  "), [].append)
    with pytest.raises(ContractError, match=r"GenerateContract\.ic must be text, got dict"):
        pdfgen.react(CONTRACT._replace(ic={"a": 1}), [].append)


def test_contract_template_option_replaces_the_built_in_text(tmp_path: Path) -> None:
    template = tmp_path / "smlouva.rst"
    template.write_text("Vlastní smlouva\n===============\n\nSmluvní strana: $firma, IČ $ic, cena 100 $$.\n",
                        encoding="utf-8")
    pdfgen.configure(context(contract_template=str(template)))
    whole = flat(" ".join(page_texts(read_pdf(pdfgen.react(CONTRACT, [].append)))))
    assert f"Smluvní strana: {CONTRACT.firma}, IČ {CONTRACT.ic}, cena 100 $." in whole
    assert "Národní knihovna" not in whole


def test_contract_template_with_unknown_placeholder_stops_configure(tmp_path: Path) -> None:
    template = tmp_path / "smlouva.rst"
    template.write_text("Smlouva s $firma a $jednatel\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"unknown placeholder\(s\) \$jednatel; placeholders are \$firma"):
        pdfgen.configure(context(contract_template=str(template)))
    with pytest.raises(ContractError, match="cannot be read"):
        pdfgen.configure(context(contract_template=str(tmp_path / "missing.rst")))


def test_review_fits_one_page_and_shows_every_field() -> None:
    reader = read_pdf(pdfgen.react(pdfgen.GenerateReview(**REVIEW_FIELDS), [].append))
    texts = page_texts(reader)
    assert len(texts) == 1
    whole = flat(texts[0])
    for name, value in REVIEW_FIELDS.items():
        if isinstance(value, str):
            assert value in whole, name
    assert "Jan Novák, PhDr." in whole and "Petr Čech" in whole
    assert "Neplatné ISBN Nezvoleno" in whole
    assert_page_numbers(texts, r"(\d+)/(\d+)")


def pdf_bytes(answer: Any) -> bytes:
    return base64.b64decode(answer.b64_content)


def decode_qr_codes(pdf: bytes, workdir: Path) -> list[str]:
    """Render the first page with poppler and read its QR codes with zbar, as a phone would."""
    for tool in ("pdftoppm", "zbarimg"):
        assert shutil.which(tool), f"{tool} missing: apt-get install poppler-utils zbar-tools"
    (workdir / "review.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "110", "-png", "-f", "1", "-l", "1", "-singlefile", "review.pdf", "page"],
                   cwd=workdir, check=True, timeout=60)
    result = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", "page.png"],
                            cwd=workdir, capture_output=True, text=True, timeout=60)
    return result.stdout.splitlines()


def test_review_qr_code_reads_back_as_the_internal_url(tmp_path: Path) -> None:
    answer = pdfgen.react(pdfgen.GenerateReview(**REVIEW_FIELDS), [].append)
    assert decode_qr_codes(pdf_bytes(answer), tmp_path) == [REVIEW_FIELDS["internal_url"]]


def test_review_without_internal_url_needs_only_a_title(tmp_path: Path) -> None:
    answer = pdfgen.react(pdfgen.GenerateReview(nazev="Jen název"), [].append)
    texts = page_texts(read_pdf(answer))
    assert "Jen název" in texts[0]
    assert decode_qr_codes(pdf_bytes(answer), tmp_path) == []


def test_review_with_a_long_annotation_flows_onto_further_pages() -> None:
    paragraphs = [f"Odstavec číslo {n}: " + "žluťoučký kůň úpěl ďábelské ódy " * 12 for n in range(40)]
    review = pdfgen.GenerateReview(**{**REVIEW_FIELDS, "anotace": "\n\n".join(paragraphs)})
    texts = page_texts(read_pdf(pdfgen.react(review, [].append)))
    assert len(texts) > 1
    assert "Odstavec číslo 39:" in texts[-1]
    assert_page_numbers(texts, r"(\d+)/(\d+)")


def test_review_refuses_no_title_and_odd_values_naming_the_field() -> None:
    with pytest.raises(ReviewError, match=r"GenerateReview\.nazev is empty"):
        pdfgen.react(pdfgen.GenerateReview(podnazev="bez názvu"), [].append)
    with pytest.raises(ReviewError, match=r"GenerateReview\.cena must be text, a number"):
        pdfgen.react(pdfgen.GenerateReview(nazev="x", cena={"kč": 10}), [].append)


def test_review_decodes_an_old_clients_message_with_every_epublication_field() -> None:
    fields = {**REVIEW_FIELDS, "autori": [{"firstName": "Jan", "lastName": "Novák", "title": "PhDr.",
                                           "__nt_name": "Author"}]}
    body = json.dumps({**fields, "__nt_name": "GenerateReview"}, ensure_ascii=False).encode()
    registry = StructureRegistry.from_modules([pdfgen])
    message = deserialize(body, registry)
    assert message.autori == [pdfgen.Author("Jan", "Novák", "PhDr.")]
    whole = flat(page_texts(read_pdf(pdfgen.react(message, [].append)))[0])
    assert "Jan Novák, PhDr." in whole and REVIEW_FIELDS["nakladatelVydavatel"] in whole


UPSTREAM_REVIEW: dict[str, Any] = {
    "nazev": "Dějiny udatného českého národa", "podnazev": "", "cast": "1", "nazev_casti": "Pravěk",
    "isbn": "978-80-7203-125-0", "isbn_souboru_publikaci": "", "generated_isbn": False,
    "author1": "Lucie Seifertová", "author2": "Ondřej Sekora", "author3": "", "poradi_vydani": "2. vydání",
    "misto_vydani": "Litomyšl", "rok_vydani": 2023, "nakladatel_vydavatel": "Nakladatelství Paseka",
    "vydano_v_koedici_s": "Městská knihovna Třebíč", "cena": "399", "anotace": "Obrázkové dějiny pro děti.",
    "libraries_accessing": "vybraným knihovnám", "libraries_that_can_access": ["NKC", "MZK"], "is_public": True,
    "url": "https://localhost/dejiny", "offer_to_riv": False, "category_for_riv": 17,
    "zpracovatel_zaznamu": "Zdeňka Řeháková", "format": "PDF", "filename": "dejiny.pdf",
    "internal_url": "http://localhost:8080/e-deposit/epublikace/77",
}


def wire_message(fields: dict[str, Any], name: str) -> Any:
    """`fields` as an upstream client puts them on the wire, decoded as the pdfgen worker decodes them."""
    body = json.dumps({**fields, "__nt_name": name}, ensure_ascii=False).encode()
    return deserialize(body, StructureRegistry.from_modules([pdfgen]))


def test_review_in_the_upstream_27_field_shape_prints_every_submitted_value() -> None:
    assert len(UPSTREAM_REVIEW) == 27
    message = wire_message(UPSTREAM_REVIEW, "GenerateReview")
    whole = flat(" ".join(page_texts(read_pdf(pdfgen.react(message, [].append)))))
    for name, value in UPSTREAM_REVIEW.items():
        if isinstance(value, str) and value:
            assert value in whole, name
    assert "Rok vydání 2023" in whole and "Kategorie pro RIV 17" in whole and "NKC MZK" in whole
    assert "ePublikace je veřejná Ano" in whole and "Zpřístupnit pro RIV Ne" in whole
    assert "Podnázev Nezvoleno" in whole and "Autor 3 Nezvoleno" in whole
    assert "Neplatné ISBN" not in whole, "an upstream review shows the upstream form, not the EPublication one"


def test_upstream_review_also_prints_epublication_fields_that_came_with_it() -> None:
    message = wire_message({**UPSTREAM_REVIEW, "vazba": "brožovaná"}, "GenerateReview")
    whole = flat(" ".join(page_texts(read_pdf(pdfgen.react(message, [].append)))))
    assert "Vazba brožovaná" in whole and "Rok vydání 2023" in whole


def test_review_structure_holds_the_epublication_fields_then_the_upstream_forms_own() -> None:
    from daemons.common.epublication import EPUBLICATION_FIELDS
    from daemons.pdfgen.review import UPSTREAM_FIELDS, UPSTREAM_ONLY

    assert pdfgen.GenerateReview._fields == (*EPUBLICATION_FIELDS, *UPSTREAM_ONLY)
    assert set(UPSTREAM_FIELDS) <= set(pdfgen.GenerateReview._fields) and len(UPSTREAM_FIELDS) == 27


def test_contract_in_the_earlier_upstream_7_field_shape_prints_jednajici() -> None:
    fields = {**CONTRACT._asdict(), "jednajici": "Mgr. Alžběta Nováková, prokuristka"}
    message = wire_message(fields, "GenerateContract")
    whole = flat(" ".join(page_texts(read_pdf(pdfgen.react(message, [].append)))))
    for name, value in fields.items():
        assert value in whole, name
    assert "Jednající Mgr. Alžběta Nováková, prokuristka" in whole


def test_contract_in_the_6_field_shape_shows_no_one_acting() -> None:
    message = wire_message({k: v for k, v in CONTRACT._asdict().items() if k != "jednajici"}, "GenerateContract")
    assert message.jednajici is None
    whole = flat(" ".join(page_texts(read_pdf(pdfgen.react(message, [].append)))))
    assert "Jednající —" in whole and CONTRACT.zastoupen in whole


def test_rst2pdf_request_renders_text_with_the_old_default_footer() -> None:
    message = pdfgen.RST2PDF("Nadpis\n======\n\nŘádek s *důrazem*.\n\n.. raw:: pdf\n\n   PageBreak\n\nDruhá.",
                             None, None, None)
    texts = page_texts(read_pdf(pdfgen.react(message, [].append)))
    assert "Řádek s důrazem." in texts[0] and "Druhá." in texts[1]
    assert_page_numbers(texts, r"(\d+)/(\d+)")


def test_missing_fonts_are_reported_by_health_and_in_every_answer(tmp_path: Path) -> None:
    pdfgen.configure(context(font_dir=str(tmp_path)))
    note = pdfgen.health()
    assert note and str(tmp_path) in note and "apt-get install fonts-dejavu-core" in note
    with pytest.raises(pdfgen.BackendUnavailable, match="fonts-dejavu-core"):
        pdfgen.react(CONTRACT, [].append)
    pdfgen.configure(context())
    assert pdfgen.health() is None


def test_unknown_request_is_refused_naming_what_pdfgen_answers() -> None:
    with pytest.raises(pdfgen.UnsupportedRequest, match="send GenerateContract, GenerateReview or RST2PDF"):
        pdfgen.react(pdfgen.PDF("x"), [].append)
