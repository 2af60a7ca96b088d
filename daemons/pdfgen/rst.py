"""reStructuredText to PDF: docutils parses, this module turns the doctree into reportlab flowables.

Note: nothing in a document may reach outside it. File insertion (`include`, `raw :file:`/`:url:`,
`csv-table :file:`) is switched off and images are shown by their alternative text, because the text
comes from the network and the daemon must not read local files or fetch URLs on a sender's behalf.
`.. raw:: pdf` with `PageBreak` (or `Spacer W H`) works as in rst2pdf.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, cast
from xml.sax.saxutils import escape, quoteattr

from docutils import nodes
from docutils.core import publish_doctree
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    HRFlowable,
    Indenter,
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    Preformatted,
    Spacer,
    Table,
    TableStyle,
)

from daemons.pdfgen.fonts import FontSet
from daemons.pdfgen.style import StyleSheet, to_points

DOCUTILS_SETTINGS = {
    "file_insertion_enabled": False,
    "raw_enabled": True,
    "report_level": 3,  # errors stay in the doctree, so the text of a broken block can still be shown
    "halt_level": 5,
    "language_code": "cs",
    "syntax_highlight": "none",
    "input_encoding": "unicode",
    "_disable_config": True,  # no docutils.conf from the working directory or home
}
ENUMERATION = {"arabic": "1", "loweralpha": "a", "upperalpha": "A", "lowerroman": "i", "upperroman": "I"}
SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:")
SKIPPED = (nodes.comment, nodes.substitution_definition, nodes.target, nodes.pending, nodes.decoration,
           nodes.meta if hasattr(nodes, "meta") else nodes.comment)


class RSTError(ValueError):
    """The reST text cannot be used."""


def parse(rst: str) -> nodes.document:
    """The docutils doctree of `rst`, parsed with file insertion off."""
    warnings = io.StringIO()
    try:
        return publish_doctree(rst, settings_overrides={**DOCUTILS_SETTINGS, "warning_stream": warnings})
    except Exception as exc:  # docutils raises its own SystemMessage and assorted errors on broken input
        raise RSTError(f"RST2PDF.rst_content cannot be parsed as reStructuredText: {exc}") from exc


def document_title(doctree: nodes.document) -> str:
    title = doctree.next_node(nodes.title)
    return title.astext() if title is not None else ""


class FlowableBuilder:
    """Turns one doctree into a list of flowables with the styles of a StyleSheet."""

    def __init__(self, sheet: StyleSheet, fonts: FontSet) -> None:
        self.sheet = sheet
        self.fonts = fonts
        self.width = sheet.page.frame_width

    # -- block level -------------------------------------------------------------------------------
    def build(self, doctree: nodes.document) -> list[Flowable]:
        return list(self.blocks(doctree, level=0))

    def blocks(self, parent: nodes.Element, level: int) -> Iterator[Flowable]:
        for child in parent.children:
            yield from self.block(child, level)

    def block(self, node: nodes.Node, level: int) -> Iterator[Flowable]:
        if isinstance(node, SKIPPED):
            return
        if isinstance(node, nodes.system_message):
            yield from self.broken_source(node)
        elif isinstance(node, nodes.section):
            yield from self.blocks(node, level + 1)
        elif isinstance(node, nodes.title):
            yield self.title(node, level)
        elif isinstance(node, nodes.subtitle):
            yield Paragraph(self.inline(node), self.sheet["subtitle"])
        elif isinstance(node, nodes.paragraph | nodes.rubric):
            style = self.sheet["heading6"] if isinstance(node, nodes.rubric) else self.sheet["bodytext"]
            yield Paragraph(self.inline(node), style)
        elif isinstance(node, nodes.bullet_list | nodes.enumerated_list):
            yield self.listing(node, level)
        elif isinstance(node, nodes.definition_list):
            yield from self.definitions(node, level)
        elif isinstance(node, nodes.field_list | nodes.docinfo | nodes.option_list):
            yield self.fields(node, level)
        elif isinstance(node, nodes.literal_block | nodes.doctest_block):
            yield Preformatted(node.astext(), self.sheet["code"], maxLineLength=self.mono_columns(), newLineChars="")
        elif isinstance(node, nodes.line_block):
            yield from self.lines(node)
        elif isinstance(node, nodes.block_quote):
            yield Indenter(left=18)
            yield from self.blocks(node, level)
            yield Indenter(left=-18)
        elif isinstance(node, nodes.attribution):
            yield Paragraph("— " + self.inline(node), self.sheet["bodytext"])
        elif isinstance(node, nodes.transition):
            yield HRFlowable(width="60%", thickness=0.6, color=colors.grey, spaceBefore=6, spaceAfter=6)
        elif isinstance(node, nodes.table):
            yield from self.table(node, level)
        elif isinstance(node, nodes.Admonition) and isinstance(node, nodes.Element):
            yield self.admonition(node, level)
        elif isinstance(node, nodes.topic | nodes.sidebar):
            yield from self.blocks(node, level + 1)
        elif isinstance(node, nodes.image | nodes.figure):
            yield from self.image(node, level)
        elif isinstance(node, nodes.raw):
            yield from self.raw(node)
        elif isinstance(node, nodes.footnote | nodes.citation):
            yield from self.note(node, level)
        elif isinstance(node, nodes.Element) and any(isinstance(c, nodes.Element) for c in node.children):
            yield from self.blocks(node, level)  # container, compound, legend, ...
        elif node.astext().strip():
            yield Paragraph(escape(node.astext()), self.sheet["bodytext"])

    def broken_source(self, message: nodes.system_message) -> Iterator[Flowable]:
        """Markup docutils could not read (a malformed table, an unknown directive) is shown as written."""
        for source in message.findall(nodes.literal_block):
            yield Preformatted(source.astext(), self.sheet["code"], maxLineLength=self.mono_columns(), newLineChars="")

    def title(self, node: nodes.title, level: int) -> Paragraph:
        if level == 0:
            style = self.sheet["title"]
        elif isinstance(node.parent, nodes.topic | nodes.sidebar | nodes.table):
            style = self.sheet["heading5"]
        else:
            style = self.sheet[f"heading{min(level, 6)}"]
        return Paragraph(self.inline(node), style)

    def listing(self, node: nodes.Element, level: int) -> ListFlowable:
        items: list[Any] = [ListItem(list(self.blocks(item, level)) or [Spacer(0, 0)]) for item in node.children
                            if isinstance(item, nodes.list_item)]
        style = self.sheet["bodytext"]
        common: dict[str, Any] = {"bulletFontName": self.fonts.regular, "bulletFontSize": style.fontSize,
                                  "leftIndent": 18, "spaceAfter": 4}
        if isinstance(node, nodes.enumerated_list):
            return ListFlowable(items, bulletType=ENUMERATION.get(node.get("enumtype", "arabic"), "1"),
                                start=node.get("start", 1), bulletFormat=f"%s{node.get('suffix', '.')}", **common)
        return ListFlowable(items, bulletType="bullet", start="•", **common)

    def definitions(self, node: nodes.definition_list, level: int) -> Iterator[Flowable]:
        for item in node.children:
            for part in item.children:
                if isinstance(part, nodes.term):
                    yield Paragraph(f"<b>{self.inline(part)}</b>", self.sheet["normal"])
                elif isinstance(part, nodes.classifier):
                    yield Paragraph(f"<i>{self.inline(part)}</i>", self.sheet["normal"])
                elif isinstance(part, nodes.definition):
                    yield Indenter(left=18)
                    yield from self.blocks(part, level)
                    yield Indenter(left=-18)

    def fields(self, node: nodes.Element, level: int) -> Flowable:
        rows: list[list[Any]] = []
        for item in node.children:
            if isinstance(item, nodes.field | nodes.option_list_item):
                name, body = cast(nodes.Element, item.children[0]), cast(nodes.Element, item.children[1])
                rows.append([Paragraph(self.inline(name), self.sheet["field-name"]),
                             list(self.blocks(body, level)) or ""])
            elif isinstance(item, nodes.Element):  # docinfo: <author>, <date>, ...
                label = self.docinfo_label(item)
                rows.append([Paragraph(escape(label), self.sheet["field-name"]),
                             Paragraph(self.inline(item), self.sheet["table"])])
        name_width = self.sheet.field_name_width or self.width * 0.3
        table = Table(rows, colWidths=[name_width, self.width - name_width], hAlign="LEFT")
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
        return table

    @staticmethod
    def docinfo_label(item: nodes.Element) -> str:
        labels = {"author": "Autor", "authors": "Autoři", "organization": "Organizace", "address": "Adresa",
                  "contact": "Kontakt", "version": "Verze", "revision": "Revize", "status": "Stav",
                  "date": "Datum", "copyright": "Copyright"}
        return labels.get(item.tagname, item.tagname.capitalize())

    def lines(self, node: nodes.line_block) -> Iterator[Flowable]:
        for line in node.children:
            if isinstance(line, nodes.line_block):
                yield Indenter(left=18)
                yield from self.lines(line)
                yield Indenter(left=-18)
            else:
                text = self.inline(line)
                yield Paragraph(text, self.sheet["normal"]) if text.strip() else Spacer(0, self.sheet["normal"].leading)

    def table(self, node: nodes.table, level: int) -> Iterator[Flowable]:
        for child in node.children:
            if isinstance(child, nodes.title):
                yield Paragraph(f"<b>{self.inline(child)}</b>", self.sheet["normal"])
        group = node.next_node(nodes.tgroup)
        if group is None:
            return
        colspecs = [c for c in group.children if isinstance(c, nodes.colspec)]
        total = sum(c.get("colwidth", 1) for c in colspecs) or 1
        widths = [self.width * c.get("colwidth", 1) / total for c in colspecs]
        grid, spans, header_rows = self.table_grid(group, len(colspecs), level)
        if not grid:
            return
        table = Table(grid, colWidths=widths, repeatRows=header_rows, hAlign="LEFT")
        commands: list[tuple[Any, ...]] = [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"), *spans]
        if header_rows:
            commands.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#e8e8e8")))
        table.setStyle(TableStyle(commands))
        yield table
        yield Spacer(0, 6)

    def table_grid(self, group: nodes.tgroup, columns: int, level: int) -> tuple[list[list[Any]], list[Any], int]:
        rows: list[tuple[nodes.row, bool]] = []
        for part in group.children:
            if isinstance(part, nodes.thead | nodes.tbody):
                rows += [(row, isinstance(part, nodes.thead)) for row in part.children if isinstance(row, nodes.row)]
        grid: list[list[Any]] = [[""] * columns for _ in rows]
        taken = [[False] * columns for _ in rows]
        spans: list[Any] = []
        for r, (row, _) in enumerate(rows):
            c = 0
            for entry in row.children:
                if not isinstance(entry, nodes.entry):
                    continue
                while c < columns and taken[r][c]:
                    c += 1
                if c >= columns:
                    break
                right = min(columns - 1, c + entry.get("morecols", 0))
                bottom = min(len(rows) - 1, r + entry.get("morerows", 0))
                for rr in range(r, bottom + 1):
                    for cc in range(c, right + 1):
                        taken[rr][cc] = True
                grid[r][c] = list(self.blocks(entry, level)) or ""
                if (right, bottom) != (c, r):
                    spans.append(("SPAN", (c, r), (right, bottom)))
                c = right + 1
        return grid, spans, sum(1 for _, head in rows if head)

    def admonition(self, node: nodes.Element, level: int) -> Flowable:
        title = next((c for c in node.children if isinstance(c, nodes.title)), None)
        heading = self.inline(title) if title is not None else escape(self.admonition_label(node))
        body: list[Flowable] = [Paragraph(f"<b>{heading}</b>", self.sheet["admonition"])]
        body += [f for c in node.children if not isinstance(c, nodes.title) for f in self.block(c, level)]
        box = Table([[body]], colWidths=[self.width])
        box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.8, colors.grey),
                                 ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f7f7f7"))]))
        return KeepTogether([box, Spacer(0, 6)])

    @staticmethod
    def admonition_label(node: nodes.Element) -> str:
        labels = {"note": "Poznámka", "warning": "Varování", "tip": "Tip", "hint": "Rada", "important": "Důležité",
                  "caution": "Pozor", "danger": "Nebezpečí", "error": "Chyba", "attention": "Upozornění"}
        return labels.get(node.tagname, node.tagname.capitalize())

    def image(self, node: nodes.Element, level: int) -> Iterator[Flowable]:
        image = node if isinstance(node, nodes.image) else node.next_node(nodes.image)
        if image is not None:
            text = image.get("alt") or image.get("uri", "")
            yield Paragraph(f"<i>[{escape(text)}]</i>", self.sheet["normal"])
        if isinstance(node, nodes.figure):
            for child in node.children:
                if isinstance(child, nodes.caption):
                    yield Paragraph(f"<i>{self.inline(child)}</i>", self.sheet["normal"])
                elif isinstance(child, nodes.legend):
                    yield from self.blocks(child, level)

    def raw(self, node: nodes.raw) -> Iterator[Flowable]:
        if "pdf" not in node.get("format", "").split():
            return
        for command in node.astext().splitlines():
            words = command.split()
            if not words:
                continue
            if words[0] == "PageBreak":
                yield PageBreak()
            elif words[0] == "CondPageBreak" and len(words) > 1:
                yield CondPageBreak(to_points(words[1], "raw pdf CondPageBreak"))
            elif words[0] == "Spacer" and len(words) > 1:
                height = words[2] if len(words) > 2 else words[1]
                yield Spacer(0, to_points(height, "raw pdf Spacer"))

    def note(self, node: nodes.Element, level: int) -> Iterator[Flowable]:
        label = next((c.astext() for c in node.children if isinstance(c, nodes.label)), "")
        paragraphs = [c for c in node.children if not isinstance(c, nodes.label)]
        body = self.sheet["bodytext"]
        style = ParagraphStyle("footnote", parent=body, fontSize=body.fontSize * 0.9, leading=body.leading * 0.9)
        for index, child in enumerate(paragraphs):
            if isinstance(child, nodes.paragraph):
                prefix = f"[{escape(label)}] " if index == 0 and label else ""
                yield Paragraph(prefix + self.inline(child), style)
            else:
                yield from self.block(child, level)

    def mono_columns(self) -> int:
        size = self.sheet["code"].fontSize
        return max(20, int((self.width - self.sheet["code"].leftIndent) / (size * 0.61)))

    # -- inline ------------------------------------------------------------------------------------
    def inline(self, node: nodes.Node) -> str:
        """reportlab paragraph markup for the inline content of `node`, every text escaped."""
        if isinstance(node, nodes.Text):
            return escape(node.astext()).replace("\n", " ")
        if isinstance(node, (*SKIPPED, nodes.system_message)):
            return ""
        inner = "".join(self.inline(child) for child in node.children)
        if isinstance(node, nodes.strong):
            return f"<b>{inner}</b>"
        if isinstance(node, nodes.emphasis | nodes.title_reference):
            return f"<i>{inner}</i>"
        if isinstance(node, nodes.literal):
            return f"<font face={quoteattr(self.fonts.mono)}>{inner}</font>"
        if isinstance(node, nodes.subscript):
            return f"<sub>{inner}</sub>"
        if isinstance(node, nodes.superscript | nodes.footnote_reference | nodes.citation_reference):
            return f"<super>{inner}</super>"
        if isinstance(node, nodes.reference):
            uri = node.get("refuri", "")
            if uri.startswith(SAFE_LINK_SCHEMES):
                return f"<link href={quoteattr(uri)} color=\"#1a4d99\">{inner}</link>"
            return inner
        if isinstance(node, nodes.image):
            return f"<i>[{escape(node.get('alt') or node.get('uri', ''))}]</i>"
        if isinstance(node, nodes.raw):
            return ""
        if isinstance(node, nodes.Element) and node.children and not isinstance(node, nodes.TextElement | nodes.inline):
            # A body element inside inline context (e.g. docinfo <authors>): keep its text.
            return "; ".join(self.inline(child) for child in node.children)
        return inner
