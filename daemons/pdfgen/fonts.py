"""Finds the DejaVu TrueType fonts on this machine and registers them with reportlab.

The PDF core fonts (Helvetica, Times) have no glyphs for Czech letters such as "ř" or "ů", so every
document embeds a Unicode TrueType font instead. Debian ships DejaVu in `fonts-dejavu-core`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SEARCH_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts/dejavu",
    "/usr/local/share/fonts",
)
INSTALL_HINT = "apt-get install fonts-dejavu-core (or set [[[options]]] font_dir to a folder holding DejaVuSerif.ttf)"

# face -> (file, fallback face when the file is missing); None = required.
FACES: dict[str, tuple[str, str | None]] = {
    "regular": ("DejaVuSerif.ttf", None),
    "bold": ("DejaVuSerif-Bold.ttf", None),
    "italic": ("DejaVuSerif-Italic.ttf", "regular"),  # italics come with fonts-dejavu-extra only
    "bold_italic": ("DejaVuSerif-BoldItalic.ttf", "bold"),
    "mono": ("DejaVuSansMono.ttf", None),
    "mono_bold": ("DejaVuSansMono-Bold.ttf", "mono"),
}
FAMILY = "DejaVuSerif"
MONO_FAMILY = "DejaVuSansMono"
# (bold, italic, face) for each style of a family; the monospaced family has no italic of its own.
_STYLES: tuple[tuple[Literal[0, 1], Literal[0, 1], str], ...] = (
    (0, 0, "regular"), (1, 0, "bold"), (0, 1, "italic"), (1, 1, "bold_italic"),
)
_MONO_FACES = {"regular": "mono", "bold": "mono_bold", "italic": "mono", "bold_italic": "mono_bold"}


class FontsMissing(RuntimeError):
    """The fonts every document embeds are not installed."""


@dataclass(frozen=True)
class FontSet:
    """reportlab names of the registered faces; `family` works with <b> and <i> in paragraph markup."""

    family: str
    regular: str
    bold: str
    italic: str
    bold_italic: str
    mono: str
    mono_bold: str
    directory: Path

    def names(self) -> list[str]:
        return sorted({self.regular, self.bold, self.italic, self.bold_italic, self.mono, self.mono_bold})


_lock = threading.Lock()
_registered: dict[Path, FontSet] = {}


def find_font_dir(font_dir: str | Path | None = None) -> Path:
    """The folder holding the required DejaVu files: `font_dir` when given, else the usual places."""
    required = [file for file, fallback in FACES.values() if fallback is None]
    candidates = [Path(font_dir)] if font_dir else [Path(d) for d in SEARCH_DIRS]
    for directory in candidates:
        if all((directory / file).is_file() for file in required):
            return directory
    where = str(candidates[0]) if font_dir else ", ".join(SEARCH_DIRS)
    raise FontsMissing(f"DejaVu fonts ({', '.join(required)}) not found in {where}: {INSTALL_HINT}")


def load_fonts(font_dir: str | Path | None = None) -> FontSet:
    """Register the faces once per process (reportlab's registry is global) and name them."""
    from reportlab.lib.fonts import addMapping  # reportlab loads on the first document, not at start
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    directory = find_font_dir(font_dir)
    with _lock:
        if directory in _registered:
            return _registered[directory]
        suffix = "" if not _registered else f"-{len(_registered)}"
        names: dict[str, str] = {}
        for face, (file, _) in FACES.items():
            if (directory / file).is_file():
                name = Path(file).stem + suffix
                pdfmetrics.registerFont(TTFont(name, str(directory / file)))
                names[face] = name
        for face, (_, fallback) in FACES.items():
            if face not in names and fallback is not None:
                names[face] = names[fallback]
        family = FAMILY + suffix
        for bold, italic, face in _STYLES:
            addMapping(family, bold, italic, names[face])
        mono_family = MONO_FAMILY + suffix
        for bold, italic, face in _STYLES:
            addMapping(mono_family, bold, italic, names[_MONO_FACES[face]])
        fonts = FontSet(family=names["regular"], directory=directory, **names)
        _registered[directory] = fonts
        return fonts
