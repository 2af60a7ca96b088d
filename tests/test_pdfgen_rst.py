"""RST2PDF: reST structure, style sheets, header and footer have a visible effect on the PDF."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4, A5

from daemons.pdfgen import handler as pdfgen
from daemons.pdfgen.rst import RSTError
from daemons.pdfgen.style import StyleSheetError
from tests.test_pdfgen import assert_page_numbers, flat, page_texts, read_pdf

DOCUMENT = """\
=============
Výroční zpráva
=============

Úvodní odstavec s **tučným**, *kurzívou*, ``kódem`` a odkazem na `web <https://localhost/zprava>`_.

Kapitola první
==============

- položka jedna
- položka dvě

  1. vnořená čísla
  2. druhé číslo

Termín
   Výklad termínu.

:Autor: Jana Dvořáková
:Verze: 3

.. warning:: Pozor na ďábelské ódy.

=======  ========
Sloupec  Hodnota
=======  ========
ř        ů
ž        ť
=======  ========

::

    doslovný  text   s mezerami

| řádek jedna
| řádek dva

Kapitola druhá
==============

Poslední věta.
"""


def render(rst: str, style: object = None, header: str | None = None, footer: str | None = None) -> list[str]:
    return page_texts(read_pdf(pdfgen.react(pdfgen.RST2PDF(rst, style, header, footer), [].append)))


def test_every_kind_of_block_keeps_its_text() -> None:
    whole = flat(" ".join(render(DOCUMENT)))
    for text in ("Výroční zpráva", "Úvodní odstavec s tučným, kurzívou, kódem a odkazem na web.", "Kapitola první",
                 "položka jedna", "vnořená čísla", "Termín", "Výklad termínu.", "Jana Dvořáková",
                 "Pozor na ďábelské ódy.", "Sloupec", "ů", "doslovný text s mezerami", "řádek jedna",
                 "Poslední věta."):
        assert text in whole, text
    assert "Varování" in whole  # the admonition's Czech label


def test_page_breaks_give_one_more_page_each() -> None:
    for breaks in (0, 2):
        rst = "\n\n".join([f"Strana {n}.\n\n.. raw:: pdf\n\n   PageBreak" for n in range(breaks)] + ["Konec."])
        texts = render(rst)
        assert len(texts) == breaks + 1
        assert "Konec." in texts[-1]


def test_long_text_flows_over_pages_numbered_in_the_footer() -> None:
    rst = "\n\n".join(f"Odstavec {n}: " + "příliš žluťoučký kůň " * 30 for n in range(60))
    texts = render(rst, footer="Strana ###Page### z ###Total###")
    assert len(texts) > 2
    assert_page_numbers(texts, r"Strana (\d+) z (\d+)")
    assert "Odstavec 59:" in texts[-1]


def test_header_shows_the_document_title_and_an_empty_footer_leaves_none() -> None:
    texts = render(DOCUMENT, header="Hlavička: ###Title###", footer="")
    assert all("Hlavička: Výroční zpráva" in text for text in texts)
    assert not any(f"1/{len(texts)}" in text for text in texts)


def font_sizes(reader_pages: list, needle: str) -> Counter:
    """Font sizes (in points, after the text matrix) of text runs that contain `needle`."""
    sizes: Counter = Counter()
    for page in reader_pages:
        def visit(text: str, cm: list, tm: list, font: dict, size: float) -> None:
            if needle in text:
                sizes[round(size * tm[0], 1)] += 1
        page.extract_text(visitor_text=visit)
    return sizes


def test_style_sheet_sets_body_font_size_and_heading_colour() -> None:
    style = {"styles": {"bodytext": {"fontSize": 17}, "heading1": {"textColor": "#aa0000", "fontSize": "20pt"}}}
    rst = "Nadpis\n======\n\nText odstavce.\n\nDalší\n=====\n\nKonec."
    styled = read_pdf(pdfgen.react(pdfgen.RST2PDF(rst, json.dumps(style), None, None), [].append))
    plain = read_pdf(pdfgen.react(pdfgen.RST2PDF(rst, None, None, None), [].append))
    assert font_sizes(styled.pages, "Text odstavce") == Counter({17.0: 1})
    assert 17.0 not in font_sizes(plain.pages, "Text odstavce")
    content = styled.pages[0].get_contents().get_data()
    assert b".666667 0 0 rg" in content and b".666667 0 0 rg" not in plain.pages[0].get_contents().get_data()


def test_style_sheet_page_setup_changes_paper_and_margins() -> None:
    style = {"pageSetup": {"size": "A5", "margin-left": "3cm"}, "fontsAlias": {"stdFont": "FreeSerif"}}
    reader = read_pdf(pdfgen.react(pdfgen.RST2PDF("Malý papír.", json.dumps(style), None, None), [].append))
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 1), round(float(box.height), 1)) == (round(A5[0], 1), round(A5[1], 1))
    default = read_pdf(pdfgen.react(pdfgen.RST2PDF("Velký papír.", None, None, None), [].append)).pages[0].mediabox
    assert round(float(default.width), 1) == round(A4[0], 1)


def test_old_rst2pdf_style_sheet_with_free_serif_names_still_renders() -> None:
    old_sheet = {"fontsAlias": {"stdFont": "FreeSerif", "stdBold": "FreeSerif-Bold"},
                 "styles": {"heading2": {"fontName": "FreeSerif-Bold", "fontSize": 12},
                            "field-list": {"colWidths": ["4.2cm", None]}},
                 "pageSetup": {"margin-top": "0.7cm", "margin-left": "0.7cm", "margin-right": "0.7cm",
                               "margin-bottom": "0.7cm"}}
    texts = render(":Název: Žluťoučký kůň\n", json.dumps(old_sheet))
    assert "Žluťoučký kůň" in texts[0]


@pytest.mark.parametrize(("style", "message"), [
    ("{not json", r"RST2PDF\.style is not JSON"),
    ('{"colors": {}}', r"unknown key\(s\) colors; expected styles, pageSetup"),
    ('{"styles": {"bodytext": {"fontSise": 12}}}', r"styles\.bodytext: unknown setting\(s\) fontSise; supported:"),
    ('{"styles": {"bodytext": {"fontSize": "big"}}}', r"styles\.bodytext\.fontSize = 'big': expected a length"),
    ('{"styles": {"bodytext": {"alignment": "middle"}}}', r"alignment = 'middle': use one of left, center"),
    ('{"styles": {"mine": {"parent": "nothing"}}}', r"parent 'nothing' is not a style; known: "),
    ('{"pageSetup": {"size": "A9"}}', r"pageSetup\.size = 'A9': use one of A3, A4"),
    ('{"styles": {"bodytext": {"textColor": "no-such-colour"}}}', r"textColor = 'no-such-colour': use a colour"),
])
def test_bad_style_sheet_is_refused_naming_key_value_and_fix(style: str, message: str) -> None:
    with pytest.raises(StyleSheetError, match=message):
        pdfgen.react(pdfgen.RST2PDF("Text.", style, None, None), [].append)


def test_rst_content_that_is_not_text_is_refused() -> None:
    with pytest.raises(RSTError, match=r"RST2PDF\.rst_content must be reStructuredText as a string, got list"):
        pdfgen.react(pdfgen.RST2PDF(["a"], None, None, None), [].append)
    with pytest.raises(RSTError, match=r"RST2PDF\.footer must be a string or null, got int"):
        pdfgen.react(pdfgen.RST2PDF("a", None, None, 5), [].append)


def test_documents_cannot_read_local_files_or_urls(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n")
    rst = (f"Začátek.\n\n.. include:: {secret}\n\n.. raw:: html\n   :file: {secret}\n\n"
           f".. csv-table::\n   :file: {secret}\n\n.. image:: {secret}\n   :alt: obrázek bez souboru\n\n"
           f".. raw:: pdf\n   :url: http://localhost:9/\n\nKonec.")
    whole = flat(" ".join(render(rst)))
    assert "Začátek." in whole and "Konec." in whole and "[obrázek bez souboru]" in whole
    assert "TOP-SECRET-CONTENT" not in whole


def test_broken_markup_still_renders_its_text() -> None:
    rst = ("Nadpis\n===\n\n*neukončená kurzíva a `odkaz\n\n.. neznama-direktiva:: parametr\n\n"
           "=====  ===\nSloupec  Hodnota\n=====  ===\n\nKonec.")
    whole = flat(" ".join(render(rst)))
    assert "neukončená kurzíva" in whole and "Konec." in whole
    assert ".. neznama-direktiva:: parametr" in whole  # shown as written
    assert "Sloupec Hodnota" in whole
    assert "Unknown directive" not in whole
