"""Builds a PDF from flowables, with a header and a footer that know the page number and the page count.

Header and footer texts use the placeholders of the old rst2pdf-based pdfgen: ###Page###, ###Total###
and ###Title###. The page count is known only at the end, so pages are kept and furnished on save.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate

from daemons.pdfgen.style import PageSetup

DEFAULT_FOOTER = "###Page###/###Total###"


@dataclass(frozen=True)
class Furniture:
    """What goes above and below the text on every page."""

    header: str | None
    footer: str | None
    title: str
    header_style: ParagraphStyle
    footer_style: ParagraphStyle

    def text(self, template: str, page: int, total: int) -> str:
        filled = template.replace("###Page###", str(page)).replace("###Total###", str(total))
        return escape(filled.replace("###Title###", self.title)).replace("\n", "<br/>")


def _canvas_class(furniture: Furniture, page: PageSetup) -> type[Canvas]:
    class FurnishedCanvas(Canvas):
        """Keeps every page until save(), when the total is known, then draws header and footer."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._kept_pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._kept_pages.append(dict(self.__dict__))
            # Note: reportlab's own "page N of M" recipe; a page is kept until the total is known.
            self._startPage()  # type: ignore[attr-defined]

        def save(self) -> None:
            total = len(self._kept_pages)
            for state in self._kept_pages:
                self.__dict__.update(state)
                self._furnish(self.getPageNumber(), total)
                super().showPage()
            super().save()

        def _furnish(self, number: int, total: int) -> None:
            width = page.frame_width
            left = page.margins["margin-left"]
            if furniture.header:
                paragraph = Paragraph(furniture.text(furniture.header, number, total), furniture.header_style)
                _, height = paragraph.wrap(width, page.margins["margin-top"])
                paragraph.drawOn(self, left, page.size[1] - page.margins["margin-top"] / 2 - height / 2)
            if furniture.footer:
                paragraph = Paragraph(furniture.text(furniture.footer, number, total), furniture.footer_style)
                _, height = paragraph.wrap(width, page.margins["margin-bottom"])
                paragraph.drawOn(self, left, page.margins["margin-bottom"] / 2 - height / 2)

    return FurnishedCanvas


def build_pdf(flowables: Sequence[Flowable], page: PageSetup, furniture: Furniture, *, author: str = "",
              subject: str = "") -> bytes:
    """The finished PDF document as bytes."""
    output = io.BytesIO()
    document = SimpleDocTemplate(
        output, pagesize=page.size, title=furniture.title, author=author, subject=subject,
        creator="edeposit-amqpd pdfgen",
        topMargin=page.margins["margin-top"], bottomMargin=page.margins["margin-bottom"],
        leftMargin=page.margins["margin-left"], rightMargin=page.margins["margin-right"],
    )
    document.build(list(flowables), canvasmaker=_canvas_class(furniture, page))
    return output.getvalue()
