"""The aleph handler against the local X-Services stand-in: every request type, batching, errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from daemons.aleph import handler as aleph
from daemons.aleph.xservices import AlephUnreachable
from daemons.common.safe_xml import UnsafeXMLError
from daemons.rpc.handler import HandlerContext
from tests.fixtures.aleph_stand_in import AlephStandIn, oai_marc


def book(isbn: str, title: str, author: str = "May, Karl,", publisher: str = "Návrat,", **extra: list) -> str:
    fields = {
        "015": [{"a": "cnb000652691"}],
        "020": [{"a": f"{isbn} (váz.) :", "c": "Kč 182,00"}],
        "040": [{"a": "ABA001", "b": "cze"}],
        "100": [{"i1": "1", "a": author, "c": "PhDr."}],
        "245": [{"i1": "1", "i2": "0", "a": f"{title} /", "b": "podtitul :", "n": "Díl 1.", "p": "Začátek"}],
        "250": [{"a": "1. vyd."}],
        "260": [{"a": "Brno :", "b": publisher, "c": "1998."}],
        "300": [{"a": "286 s. ;", "c": "22 cm"}],
        "700": [{"i1": "1", "a": "Šunda, Vladimír"}],
        **extra,
    }
    return oai_marc(fields, fixed={"LDR": "-----nam-a22------a-4500", "001": "cnb000652691", "FMT": "BK"})


@pytest.fixture
def stand_in():
    with AlephStandIn() as server:
        yield server


def configure(tmp_path: Path, **options: object) -> None:
    defaults = {"url": None, "export_url": None, "export_signature": "", "timeout": 5.0, "present_batch": 100,
                "library": "NKC01"}
    aleph.configure(HandlerContext("aleph", {**defaults, **options}, tmp_path, tmp_path))


@pytest.fixture
def configured(stand_in: AlephStandIn, tmp_path: Path) -> AlephStandIn:
    configure(tmp_path, url=stand_in.url, export_url=stand_in.export_url)
    return stand_in


def test_isbn_query_finds_the_record_and_parses_it_into_an_epublication(configured: AlephStandIn) -> None:
    configured.add_record("000652691", book("80-7174-091-8", "Ardistan a Džinistan"))
    configured.add_record("000000002", book("80-251-0225-4", "Jiná kniha"))

    result = aleph.react(aleph.SearchRequest(aleph.ISBNQuery("80-7174-091-8")), [].append)

    assert isinstance(result, aleph.SearchResult)
    [record] = result.records
    assert record.docNumber == "000652691" and record.base == "nkc"
    assert "<oai_marc>" in record.xml
    epub = record.parsed_info
    assert epub.ISBN == ["80-7174-091-8"]
    assert epub.nazev == "Ardistan a Džinistan" and epub.podnazev == "podtitul"
    assert (epub.castDil, epub.nazevCasti) == ("Díl 1.", "Začátek")
    assert (epub.mistoVydani, epub.nakladatelVydavatel, epub.datumVydani) == ("Brno", "Návrat", "1998")
    assert epub.vazba == "váz." and epub.cena == "Kč 182,00" and epub.poradiVydani == "1. vyd."
    assert epub.zpracovatelZaznamu == "ABA001" and epub.id_number == "cnb000652691"
    assert epub.autori == [aleph.Author("Karl", "May", "PhDr."), aleph.Author("Vladimír", "Šunda", "")]
    assert record.semantic_info.contentOfFMT == "BK" and not record.semantic_info.isSummaryRecord


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (aleph.AuthorQuery("Čapek"), "wau"),
        (aleph.PublisherQuery("Aventinum"), "wpb"),
        (aleph.TitleQuery("Krakatit"), "wtl"),
        (aleph.GenericQuery("nkc", "Krakatit", False, "wtl"), "wtl"),
    ],
)
def test_each_query_type_searches_its_own_aleph_index(configured: AlephStandIn, query: object, index: str) -> None:
    configured.add_record("1", book("80-251-0225-4", "Krakatit", author="Čapek, Karel,", publisher="Aventinum,"))
    configured.add_record("2", book("80-7174-091-8", "Jiná kniha", author="Jiný, Autor,", publisher="Jiný,"))

    result = aleph.react(aleph.SearchRequest(query), [].append)

    assert [r.docNumber for r in result.records] == ["1"]
    assert configured.ops("find")[-1]["request"].startswith(f"{index}=")


def test_icz_query_searches_the_icz_index(configured: AlephStandIn) -> None:
    configured.add_record("7", book("80-251-0225-4", "S ICZ", ICZ=[{"a": "ICZ-42"}]))
    assert [r.docNumber for r in aleph.react(aleph.SearchRequest(aleph.ICZQuery("ICZ-42")), [].append).records] == ["7"]


def test_search_presents_large_sets_in_batches(stand_in: AlephStandIn, tmp_path: Path) -> None:
    configure(tmp_path, url=stand_in.url, present_batch=2)
    for number in range(1, 6):
        stand_in.add_record(f"{number:09d}", book("80-251-0225-4", f"Svazek {number}"))

    result = aleph.react(aleph.SearchRequest(aleph.ISBNQuery("80-251-0225-4")), [].append)

    assert [r.parsed_info.nazev for r in result.records] == [f"Svazek {n}" for n in range(1, 6)]
    assert [p["set_entry"] for p in stand_in.ops("present")] == [
        "000000001-000000002", "000000003-000000004", "000000005"]


def test_empty_set_is_an_empty_search_result_and_a_zero_count(configured: AlephStandIn) -> None:
    assert aleph.react(aleph.SearchRequest(aleph.TitleQuery("nic")), [].append) == aleph.SearchResult([])
    assert aleph.react(aleph.CountRequest(aleph.TitleQuery("nic")), [].append) == aleph.CountResult(0)


def test_count_request_counts_without_presenting(configured: AlephStandIn) -> None:
    for number in range(3):
        configured.add_record(str(number), book("80-251-0225-4", "Kniha"))
    assert aleph.react(aleph.CountRequest(aleph.ISBNQuery("80-251-0225-4")), [].append) == aleph.CountResult(3)
    assert configured.ops("present") == []


def test_document_query_uses_find_doc_in_its_library(configured: AlephStandIn) -> None:
    configured.add_record("000652691", book("80-7174-091-8", "Ardistan"), base="CZE01")

    result = aleph.react(aleph.SearchRequest(aleph.DocumentQuery("000652691")), [].append)
    missing = aleph.react(aleph.SearchRequest(aleph.DocumentQuery("000000009")), [].append)

    found = [(r.docNumber, r.library, r.parsed_info.nazev) for r in result.records]
    assert found == [("000652691", "CZE01", "Ardistan")]
    assert missing.records == []
    assert aleph.react(aleph.CountRequest(aleph.DocumentQuery("000652691")), [].append) == aleph.CountResult(1)
    assert configured.ops("find_doc")[0]["base"] == "CZE01"


def test_semantic_info_reads_the_workflow_fields(configured: AlephStandIn) -> None:
    configured.add_record("5", book(
        "80-251-0225-4", "Souborný", IST=[{"a": "jp2 20150101"}, {"a": "vr"}], HLD=[{"a": "x"}],
        BAS=[{"a": "90"}], PJM=[{"a": "Souborný záznam viz nkc20150003029."}],
    ))

    [record] = aleph.react(aleph.SearchRequest(aleph.TitleQuery("Souborný")), [].append).records

    info = record.semantic_info
    assert info.hasDescriptiveCatFields and info.hasSubjectCatReviewFields and info.hasAcquisitionFields
    assert not info.hasISBNAgencyFields and not info.hasSubjectCatFields
    assert info.isClosed
    assert info.parsedSummaryRecordSysNumber == "nkc20150003029"


@pytest.mark.parametrize(("isbn", "valid"), [
    ("80-251-0225-4", True), ("80-251-0225-5", False), ("978-0-306-40615-7", True), ("978-0-306-40615-8", False),
    ("0-8044-2957-X", True), ("80-251-0225", False), ("", False),
])
def test_isbn_validation_checks_the_checksum(isbn: str, valid: bool) -> None:
    assert aleph.react(aleph.ISBNValidationRequest(isbn), [].append) == aleph.ISBNValidationResult(valid)


def test_isbn_validation_unwraps_an_isbn_query_as_upstream_clients_send_it() -> None:
    valid = aleph.ISBNValidationRequest(ISBN=aleph.ISBNQuery("80-251-0225-4"))
    invalid = aleph.ISBNValidationRequest(ISBN=aleph.ISBNQuery("80-251-0225-5", "nkc"))
    assert aleph.react(valid, [].append) == aleph.ISBNValidationResult(True)
    assert aleph.react(invalid, [].append) == aleph.ISBNValidationResult(False)


def test_isbn_validation_of_something_else_is_an_error_not_a_silent_false() -> None:
    with pytest.raises(TypeError, match=r"ISBNValidationRequest.ISBN must be the ISBN as text or an ISBNQuery, got "
                                        r"TitleQuery"):
        aleph.react(aleph.ISBNValidationRequest(aleph.TitleQuery("Babička")), [].append)


def epublication(**changes: object) -> aleph.EPublication:
    fields = dict(
        ISBN="80-251-0225-4", invalid_ISBN=[], id_number="", nazev="Kniha", podnazev="", vazba="online", cena="100",
        castDil="", nazevCasti="", nakladatelVydavatel="Nakladatel", datumVydani="2015", poradiVydani="1.",
        zpracovatelZaznamu="Zpracovatel", format="pdf", url="", mistoVydani="Praha", ISBNSouboruPublikaci=[],
        autori=[aleph.Author("Karel", "Čapek", ""), aleph.Author("Josef", "Čapek", "")], originaly=[],
        internal_url="http://edeposit/internal/1", anotace="",
    )
    return aleph.EPublication(**{**fields, **changes})


def test_export_posts_the_form_and_returns_the_isbn(configured: AlephStandIn) -> None:
    result = aleph.react(aleph.ExportRequest(epublication()), [].append)

    assert result == aleph.ExportResult("80-251-0225-4")
    [form] = configured.state.posts
    assert form["P0501010__a"] == "80-251-0225-4" and form["P07012001_a"] == "Kniha"
    assert (form["P1301ZAK__b"], form["P1302ZAK__c"]) == ("Čapek, Karel", "Čapek, Josef")
    assert form["P0300BAS__a"] == "49" and form["P1801URL__u"] == "http://edeposit/internal/1"


def test_export_rejected_by_aleph_raises_export_rejected(configured: AlephStandIn) -> None:
    configured.reject_exports("Error: duplicate ISBN 80-251-0225-4")
    with pytest.raises(aleph.ExportRejectedException, match="duplicate ISBN"):
        aleph.react(aleph.ExportRequest(epublication()), [].append)


def test_export_with_invalid_isbn_names_the_field_and_sends_nothing(configured: AlephStandIn) -> None:
    with pytest.raises(ValueError, match=r"EPublication.ISBN = '80-251-0225-5'.*checksum"):
        aleph.react(aleph.ExportRequest(epublication(ISBN="80-251-0225-5")), [].append)
    with pytest.raises(ValueError, match="mistoVydani"):
        aleph.react(aleph.ExportRequest(epublication(mistoVydani="")), [].append)
    assert configured.state.posts == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_an_error_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    configure(tmp_path, url=url)
    with pytest.raises(AlephUnreachable, match=f"{url}/X is unreachable"):
        aleph.react(aleph.SearchRequest(aleph.TitleQuery("x")), [].append)


def test_missing_url_option_is_reported_by_health_and_by_requests(tmp_path: Path) -> None:
    configure(tmp_path)
    assert "url" in aleph.health()
    with pytest.raises(aleph.BackendNotConfigured, match=r"option `url`.*\[\[\[options\]\]\]"):
        aleph.react(aleph.CountRequest(aleph.TitleQuery("x")), [].append)


def test_generic_query_with_a_strange_field_is_refused(configured: AlephStandIn) -> None:
    with pytest.raises(ValueError, match="search field 'wtl&op=x'"):
        aleph.react(aleph.SearchRequest(aleph.GenericQuery("nkc", "x", False, "wtl&op=x")), [].append)
    assert configured.ops("find") == []


def test_answer_with_an_external_entity_is_refused_unread(configured: AlephStandIn, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    configured.state.prologue = f'<!DOCTYPE find [<!ENTITY e SYSTEM "file://{secret}">]>'
    with pytest.raises(UnsafeXMLError, match="DOCTYPE") as error:
        aleph.react(aleph.CountRequest(aleph.TitleQuery("x")), [].append)
    assert "top secret" not in str(error.value)
