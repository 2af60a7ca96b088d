"""Paragraph styles and page geometry, and the JSON style sheets old clients send with RST2PDF.

A style sheet is a subset of the rst2pdf format the old pdfgen used:

    {"styles": {"bodytext": {"fontSize": 12, "alignment": "justify"}, "heading1": {"textColor": "#203060"}},
     "pageSetup": {"size": "A5", "margin-top": "1cm"},
     "fontsAlias": {...}}

`fontsAlias` and `embeddedFonts` are accepted and ignored: documents always embed DejaVu. A font name in a
style picks the matching DejaVu face (a name with "Bold", "Italic"/"Oblique", "Mono"/"Courier").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from reportlab.lib import colors, pagesizes
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm, inch, mm

from daemons.pdfgen.fonts import FontSet


class StyleSheetError(ValueError):
    """A style sheet sent with a request cannot be used; the text names the key, the value and the fix."""


ALIGNMENTS = {"left": TA_LEFT, "center": TA_CENTER, "centre": TA_CENTER, "right": TA_RIGHT, "justify": TA_JUSTIFY,
              "TA_LEFT": TA_LEFT, "TA_CENTER": TA_CENTER, "TA_RIGHT": TA_RIGHT, "TA_JUSTIFY": TA_JUSTIFY}
NUMERIC_ATTRIBUTES = {"fontSize", "leading", "spaceBefore", "spaceAfter", "firstLineIndent", "leftIndent",
                      "rightIndent"}
STYLE_ATTRIBUTES = NUMERIC_ATTRIBUTES | {"alignment", "textColor", "backColor", "fontName", "parent"}
PAGE_SIZES = {name: getattr(pagesizes, name) for name in
              ("A3", "A4", "A5", "A6", "B5", "LETTER", "LEGAL", "letter", "legal")}
MARGINS = ("margin-top", "margin-bottom", "margin-left", "margin-right")
UNITS = {"cm": cm, "mm": mm, "in": inch, "pt": 1.0}


@dataclass(frozen=True)
class PageSetup:
    """Paper size and margins in points."""

    size: tuple[float, float] = pagesizes.A4
    margins: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MARGINS, 2 * cm))

    @property
    def frame_width(self) -> float:
        return self.size[0] - self.margins["margin-left"] - self.margins["margin-right"]


def base_styles(fonts: FontSet) -> dict[str, ParagraphStyle]:
    """The named styles every document starts from (rst2pdf's names, so old style sheets apply)."""
    body = ParagraphStyle("bodytext", fontName=fonts.regular, fontSize=10.5, leading=14, spaceAfter=6,
                          alignment=TA_JUSTIFY)
    styles = {"bodytext": body, "normal": replace_style(body, "normal", spaceAfter=0, alignment=TA_LEFT)}
    sizes = {1: 17, 2: 14, 3: 12.5, 4: 11.5, 5: 11, 6: 10.5}
    for level, size in sizes.items():
        styles[f"heading{level}"] = ParagraphStyle(
            f"heading{level}", fontName=fonts.bold, fontSize=size, leading=size * 1.25,
            spaceBefore=size * 0.8, spaceAfter=size * 0.4, keepWithNext=1)
    styles["title"] = ParagraphStyle("title", fontName=fonts.bold, fontSize=20, leading=25, alignment=TA_CENTER,
                                     spaceAfter=8, keepWithNext=1)
    styles["subtitle"] = ParagraphStyle("subtitle", fontName=fonts.regular, fontSize=14, leading=18,
                                        alignment=TA_CENTER, spaceAfter=10, keepWithNext=1)
    styles["code"] = ParagraphStyle("code", fontName=fonts.mono, fontSize=9, leading=11.5, spaceAfter=6,
                                    leftIndent=12, backColor=colors.HexColor("#f2f2f2"))
    styles["literal"] = styles["code"]
    styles["table"] = replace_style(body, "table", alignment=TA_LEFT, spaceAfter=0)
    styles["field-name"] = replace_style(body, "field-name", fontName=fonts.bold, alignment=TA_LEFT, spaceAfter=0)
    styles["header"] = ParagraphStyle("header", fontName=fonts.regular, fontSize=8.5, leading=10.5,
                                      alignment=TA_CENTER, textColor=colors.HexColor("#444444"))
    styles["footer"] = replace_style(styles["header"], "footer")
    styles["admonition"] = replace_style(body, "admonition", alignment=TA_LEFT)
    return styles


def replace_style(style: ParagraphStyle, name: str, **changes: Any) -> ParagraphStyle:
    return ParagraphStyle(name, parent=style, **changes)


@dataclass(frozen=True)
class StyleSheet:
    styles: dict[str, ParagraphStyle]
    page: PageSetup = field(default_factory=PageSetup)
    field_name_width: float | None = None

    def __getitem__(self, name: str) -> ParagraphStyle:
        return self.styles[name]


def default_stylesheet(fonts: FontSet) -> StyleSheet:
    return StyleSheet(base_styles(fonts))


def parse_stylesheet(style: Any, fonts: FontSet) -> StyleSheet:
    """Apply a style sheet (JSON text or a dict; None or "" for the defaults) to the base styles."""
    sheet = default_stylesheet(fonts)
    if style is None or (isinstance(style, str) and not style.strip()):
        return sheet
    if isinstance(style, str):
        try:
            style = json.loads(style)
        except json.JSONDecodeError as exc:
            raise StyleSheetError(f"RST2PDF.style is not JSON ({exc}); send an rst2pdf-style JSON style sheet "
                                  f"such as {{\"styles\": {{\"bodytext\": {{\"fontSize\": 12}}}}}} or null") from None
    if not isinstance(style, dict):
        raise StyleSheetError(f"RST2PDF.style must be a JSON object, got {type(style).__name__}")
    unknown = set(style) - {"styles", "pageSetup", "fontsAlias", "embeddedFonts"}
    if unknown:
        raise StyleSheetError(f"RST2PDF.style: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"expected styles, pageSetup (fontsAlias and embeddedFonts are ignored)")
    styles = dict(sheet.styles)
    field_name_width = None
    for name, attributes in _items(style.get("styles"), "styles"):
        if name == "field-list":
            field_name_width = _field_list_width(attributes)
            continue
        styles[name] = _apply_style(name, attributes, styles, fonts)
    return StyleSheet(styles, _page_setup(style.get("pageSetup")), field_name_width)


def _items(value: Any, where: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list) and all(isinstance(item, list) and len(item) == 2 for item in value):
        return [tuple(item) for item in value]  # rst2pdf also allowed [[name, {...}], ...]
    raise StyleSheetError(f"RST2PDF.style {where}: expected an object of name -> settings, got {value!r}")


def _apply_style(name: str, attributes: Any, styles: dict[str, ParagraphStyle], fonts: FontSet) -> ParagraphStyle:
    where = f"RST2PDF.style styles.{name}"
    if not isinstance(attributes, dict):
        raise StyleSheetError(f"{where}: expected an object of settings, got {attributes!r}")
    unknown = set(attributes) - STYLE_ATTRIBUTES
    if unknown:
        raise StyleSheetError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}; "
                              f"supported: {', '.join(sorted(STYLE_ATTRIBUTES))}")
    parent_name = attributes.get("parent", name if name in styles else "bodytext")
    if parent_name not in styles:
        raise StyleSheetError(f"{where}: parent {parent_name!r} is not a style; known: {', '.join(sorted(styles))}")
    changes: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in NUMERIC_ATTRIBUTES:
            changes[key] = to_points(value, f"{where}.{key}")
        elif key == "alignment":
            if value not in ALIGNMENTS:
                raise StyleSheetError(f"{where}.alignment = {value!r}: use one of left, center, right, justify")
            changes[key] = ALIGNMENTS[value]
        elif key in ("textColor", "backColor"):
            changes[key] = _color(value, f"{where}.{key}")
        elif key == "fontName":
            changes[key] = face_for(str(value), fonts)
    if "fontSize" in changes and "leading" not in changes:
        changes["leading"] = changes["fontSize"] * 1.25
    return ParagraphStyle(name, parent=styles[parent_name], **changes)


def face_for(font_name: str, fonts: FontSet) -> str:
    """The DejaVu face closest to a font name from an old style sheet (e.g. FreeSerif-Bold -> bold)."""
    lowered = font_name.lower()
    bold = "bold" in lowered
    italic = "italic" in lowered or "oblique" in lowered
    if "mono" in lowered or "courier" in lowered:
        return fonts.mono_bold if bold else fonts.mono
    return {(False, False): fonts.regular, (True, False): fonts.bold, (False, True): fonts.italic,
            (True, True): fonts.bold_italic}[(bold, italic)]


def _color(value: Any, where: str) -> colors.Color:
    try:
        if isinstance(value, list):
            return colors.Color(*[float(v) for v in value])
        return colors.toColor(str(value))
    except (ValueError, TypeError):
        raise StyleSheetError(f"{where} = {value!r}: use a colour name (navy), #rrggbb or [r, g, b] in 0..1") from None


def to_points(value: Any, where: str) -> float:
    """12, "12", "12pt", "1.5cm", "10mm", "1in" -> points."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    for unit, factor in UNITS.items():
        if text.endswith(unit):
            text, scale = text[: -len(unit)], factor
            break
    else:
        scale = 1.0
    try:
        return float(text) * scale
    except ValueError:
        raise StyleSheetError(f"{where} = {value!r}: expected a length such as 12, \"12pt\", \"1.5cm\" or "
                              f"\"10mm\"") from None


def _field_list_width(attributes: Any) -> float | None:
    widths = attributes.get("colWidths") if isinstance(attributes, dict) else None
    if not widths or widths[0] is None:
        return None
    return to_points(widths[0], "RST2PDF.style styles.field-list.colWidths[0]")


def _page_setup(setup: Any) -> PageSetup:
    page = PageSetup()
    if setup is None:
        return page
    if not isinstance(setup, dict):
        raise StyleSheetError(f"RST2PDF.style pageSetup: expected an object, got {setup!r}")
    known = {"size", "width", "height", *MARGINS, "margin-gutter", "spacing-header", "spacing-footer",
             "firstTemplate"}
    unknown = set(setup) - known
    if unknown:
        raise StyleSheetError(f"RST2PDF.style pageSetup: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"supported: size, width, height, {', '.join(MARGINS)}")
    size = page.size
    if setup.get("size") is not None:
        if setup["size"] not in PAGE_SIZES:
            raise StyleSheetError(f"RST2PDF.style pageSetup.size = {setup['size']!r}: use one of "
                                  f"{', '.join(sorted(PAGE_SIZES))}, or width and height")
        size = PAGE_SIZES[setup["size"]]
    if setup.get("width") is not None and setup.get("height") is not None:
        size = (to_points(setup["width"], "pageSetup.width"), to_points(setup["height"], "pageSetup.height"))
    margins = dict(page.margins)
    for key in MARGINS:
        if setup.get(key) is not None:
            margins[key] = to_points(setup[key], f"RST2PDF.style pageSetup.{key}")
    result = replace(page, size=size, margins=margins)
    if result.frame_width < 2 * cm or size[1] - margins["margin-top"] - margins["margin-bottom"] < 3 * cm:
        raise StyleSheetError(f"RST2PDF.style pageSetup: margins {margins} leave no room on a {size} page")
    return result
