"""The review of a submitted e-publication form (GenerateReview): every field, and a QR code of its page.

The publisher keeps this PDF as a record of what was sent; the QR code leads back to the publication's
internal page (`internal_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from daemons.pdfgen.fonts import FontSet
from daemons.pdfgen.page import Furniture, build_pdf
from daemons.pdfgen.style import default_stylesheet

# The two shapes a GenerateReview arrives in (daemons/pdfgen/handler.py has one structure with the union of
# their fields). Each maps the fields of its table, in the order the form shows them, to Czech labels;
# `anotace` is printed below the table in both.
EPUBLICATION_LABELS = {
    "nazev": "Název", "podnazev": "Podnázev", "castDil": "Část, díl", "nazevCasti": "Název části",
    "autori": "Autoři", "ISBN": "ISBN", "invalid_ISBN": "Neplatné ISBN", "ISBNSouboruPublikaci": "ISBN souboru",
    "nakladatelVydavatel": "Nakladatel / vydavatel", "mistoVydani": "Místo vydání", "datumVydani": "Datum vydání",
    "poradiVydani": "Pořadí vydání", "vazba": "Vazba", "format": "Formát", "cena": "Cena",
    "zpracovatelZaznamu": "Zpracovatel záznamu", "id_number": "Identifikační číslo", "url": "URL",
    "originaly": "Originály", "internal_url": "Interní URL",
}
# The review form of the last upstream release (27 fields with anotace).
UPSTREAM_LABELS = {
    "nazev": "Název ePublikace", "podnazev": "Podnázev", "cast": "Část (svazek, díl)",
    "nazev_casti": "Název části, dílu", "isbn": "ISBN", "isbn_souboru_publikaci": "ISBN souboru publikací",
    "generated_isbn": "Přidělit ISBN agenturou", "author1": "Autor", "author2": "Autor 2", "author3": "Autor 3",
    "poradi_vydani": "Pořadí vydání, verze", "misto_vydani": "Místo vydání", "rok_vydani": "Rok vydání",
    "nakladatel_vydavatel": "Nakladatel / vydavatel", "vydano_v_koedici_s": "Vydáno v koedici s",
    "cena": "Cena v Kč", "libraries_accessing": "Oprávnění knihovnám",
    "libraries_that_can_access": "Knihovny s přístupem k ePublikaci", "is_public": "ePublikace je veřejná",
    "url": "URL", "offer_to_riv": "Zpřístupnit pro RIV", "category_for_riv": "Kategorie pro RIV",
    "zpracovatel_zaznamu": "Zpracovatel záznamu", "format": "Formát souboru", "filename": "Soubor",
    "internal_url": "Interní URL",
}
ANNOTATION = "anotace"
EPUBLICATION_FIELDS = (*EPUBLICATION_LABELS, ANNOTATION)
UPSTREAM_FIELDS = (*UPSTREAM_LABELS, ANNOTATION)
UPSTREAM_ONLY = tuple(name for name in UPSTREAM_FIELDS if name not in EPUBLICATION_FIELDS)
FIELDS = (*EPUBLICATION_FIELDS, *UPSTREAM_ONLY)
NOT_CHOSEN = "Nezvoleno"
QR_SIZE = 3.6 * cm
TITLE = "Přehled odeslaného formuláře"
NOTE = ("Přehled je obrazem dat odeslaných na server E-deposit. Hodnota „Nezvoleno“ znamená, že pole nebylo "
        "vyplněno; zobrazena jsou data tak, jak je server přijal, nikoli nutně popisky formuláře.")


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def table_rows(values: Mapping[str, Any]) -> dict[str, str]:
    """The fields the review's table shows, with their labels.

    The upstream form's table when any of its own fields is present (not null), else the EPublication
    table; in the upstream table, EPublication fields that carry a value follow, so nothing sent is lost.
    """
    if all(values.get(name) is None for name in UPSTREAM_ONLY):
        return EPUBLICATION_LABELS
    extra = {name: label for name, label in EPUBLICATION_LABELS.items()
             if name not in UPSTREAM_LABELS and not is_blank(values.get(name))}
    return {**UPSTREAM_LABELS, **extra}


class ReviewError(ValueError):
    """A review request cannot be rendered."""


def format_author(author: Any) -> str:
    """Author(firstName, lastName, title), a dict with those keys, or plain text -> one line."""
    if isinstance(author, tuple) and hasattr(author, "_asdict"):
        author = author._asdict()
    if isinstance(author, Mapping):
        name = " ".join(str(author[k]).strip() for k in ("firstName", "lastName") if author.get(k))
        title = str(author.get("title") or "").strip()
        return f"{name}, {title}" if title else name
    return str(author)


def format_value(name: str, value: Any) -> list[str]:
    """The lines shown for one field."""
    if is_blank(value):
        return [NOT_CHOSEN]
    if isinstance(value, bool):
        return ["Ano" if value else "Ne"]
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return [format_author(v) if name == "autori" else str(v) for v in value]
    if name == "autori":
        return [format_author(value)]
    raise ReviewError(f"GenerateReview.{name} must be text, a number, a bool or a list, got "
                      f"{type(value).__name__} {value!r}")


def check_review(values: Mapping[str, Any]) -> None:
    for name in FIELDS:
        format_value(name, values.get(name))
    if not str(values.get("nazev") or "").strip():
        raise ReviewError("GenerateReview.nazev is empty: a review needs at least the publication's title")
    url = values.get("internal_url")
    if url is not None and not isinstance(url, str):
        raise ReviewError(f"GenerateReview.internal_url must be a URL as text, got {url!r}")


def qr_code(value: str, size: float = QR_SIZE) -> Drawing:
    widget = QrCodeWidget(value, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (right - left), 0, 0, size / (top - bottom), 0, 0])
    drawing.add(widget)
    return drawing


def review_flowables(values: Mapping[str, Any], fonts: FontSet, sent: datetime) -> list[Flowable]:
    sheet = default_stylesheet(fonts)
    width = sheet.page.frame_width
    intro = [Paragraph(TITLE, sheet["heading1"]),
             Paragraph(f"Hodnoty formuláře tak, jak byly odeslány na server E-deposit dne {sent:%d. %m. %Y} "
                       f"v {sent:%H:%M}.", sheet["normal"])]
    url = values.get("internal_url")
    header: list[list[Any]] = [[intro, qr_code(url) if url else ""]]
    top = Table(header, colWidths=[width - QR_SIZE - 6, QR_SIZE + 6])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    rows = []
    for name, label in table_rows(values).items():
        lines = format_value(name, values.get(name))
        text = "<br/>".join(escape(line) for line in lines)
        if lines == [NOT_CHOSEN]:
            text = f"<font color='#777777'><i>{text}</i></font>"
        rows.append([Paragraph(escape(label), sheet["field-name"]), Paragraph(text, sheet["table"])])
    table = Table(rows, colWidths=[width * 0.3, width * 0.7], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.lightgrey),
        ("ROWBACKGROUNDS", (0, 0), (-1, -1), [colors.white, colors.HexColor("#f5f5f5")]),
    ]))
    flowables: list[Flowable] = [top, Spacer(0, 8), table, Spacer(0, 10),
                                 Paragraph("Anotace", sheet["heading3"])]
    annotation = values.get("anotace")
    paragraphs = [p for p in str(annotation or "").split("\n\n") if p.strip()] or [NOT_CHOSEN]
    flowables += [Paragraph(escape(" ".join(p.split())), sheet["bodytext"]) for p in paragraphs]
    flowables += [Spacer(0, 12), Paragraph(f"<font size=8.5>{escape(NOTE)}</font>", sheet["normal"])]
    return flowables


def render_review(values: Mapping[str, Any], fonts: FontSet, sent: datetime | None = None) -> bytes:
    check_review(values)
    sheet = default_stylesheet(fonts)
    title = " ".join(str(values["nazev"]).split())
    furniture = Furniture(header=None, footer="E-deposit – ###Title### – ###Page###/###Total###", title=title,
                          header_style=sheet["header"], footer_style=sheet["footer"])
    return build_pdf(review_flowables(values, fonts, sent or datetime.now()), sheet.page, furniture,
                     subject=TITLE)
