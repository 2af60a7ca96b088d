"""reST text plus an optional style sheet, header and footer -> PDF bytes (the RST2PDF request)."""

from __future__ import annotations

from typing import Any

from daemons.pdfgen.fonts import FontSet
from daemons.pdfgen.page import DEFAULT_FOOTER, Furniture, build_pdf
from daemons.pdfgen.rst import FlowableBuilder, RSTError, document_title, parse
from daemons.pdfgen.style import StyleSheet, parse_stylesheet


def render_rst(rst: str, fonts: FontSet, style: Any = None, header: str | None = None,
               footer: str | None = DEFAULT_FOOTER, title: str | None = None) -> bytes:
    """Render reST; `header`/`footer` take ###Page###, ###Total### and ###Title###; "" or None leaves them out."""
    if not isinstance(rst, str):
        raise RSTError(f"RST2PDF.rst_content must be reStructuredText as a string, got {type(rst).__name__}")
    for name, value in (("header", header), ("footer", footer)):
        if value is not None and not isinstance(value, str):
            raise RSTError(f"RST2PDF.{name} must be a string or null, got {type(value).__name__} {value!r}")
    sheet = parse_stylesheet(style, fonts)
    doctree = parse(rst)
    return render_doctree(doctree, sheet, fonts, header, footer, title)


def render_doctree(doctree: Any, sheet: StyleSheet, fonts: FontSet, header: str | None, footer: str | None,
                   title: str | None = None) -> bytes:
    flowables = FlowableBuilder(sheet, fonts).build(doctree)
    furniture = Furniture(header=header or None, footer=footer or None, title=title or document_title(doctree),
                          header_style=sheet["header"], footer_style=sheet["footer"])
    return build_pdf(flowables, sheet.page, furniture)
