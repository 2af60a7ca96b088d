"""The formats calibre's ebook-convert reads and writes, and the check that a request names one of them.

The lists are calibre's own (`available_input_formats()` / `available_output_formats()` of calibre 6),
less the formats that would let a request reach beyond the file it sent: recipes run Python code and
download from the web, an OPF names other files on this machine, and OEB output is a directory.
"""

from __future__ import annotations

from typing import Any

INPUT_FORMATS = frozenset({
    "azw", "azw3", "azw4", "cb7", "cbc", "cbr", "cbz", "chm", "djv", "djvu", "docm", "docx", "epub", "fb2",
    "fbz", "htm", "html", "htmlz", "lit", "lrf", "markdown", "md", "mobi", "odt", "pdb", "pdf", "pml", "pmlz",
    "pobi", "prc", "rar", "rb", "rtf", "shtm", "shtml", "snb", "tcr", "text", "textile", "txt", "txtz", "updb",
    "xhtm", "xhtml", "zip",
})
OUTPUT_FORMATS = frozenset({
    "azw3", "docx", "epub", "fb2", "htmlz", "lit", "lrf", "mobi", "pdb", "pdf", "pmlz", "rb", "rtf", "snb",
    "tcr", "txt", "txtz", "zip",
})
REFUSED = {
    "recipe": "a recipe runs Python code and downloads from the web",
    "downloaded_recipe": "a recipe runs Python code and downloads from the web",
    "opf": "an OPF package names other files on this machine; send it zipped (zip) or as epub",
    "oeb": "OEB output is a directory; ask for zip (the same OEB book, zipped)",
}


class UnsupportedFormat(ValueError):
    """A request names a format calibre cannot read or write, or one this daemon refuses."""


def normalize(value: Any) -> str:
    """"EPUB", ".epub" and " epub " all mean "epub"."""
    return str(value).strip().lstrip(".").lower() if value is not None else ""


def _check(value: Any, allowed: frozenset[str], field: str, verb: str) -> str:
    name = normalize(value)
    if name in REFUSED:
        raise UnsupportedFormat(f"{field} {value!r} is refused: {REFUSED[name]}")
    if name not in allowed:
        raise UnsupportedFormat(
            f"{field} {value!r} is not a format calibre can {verb}; use one of: {', '.join(sorted(allowed))}"
        )
    return name


def input_format(value: Any) -> str:
    return _check(value, INPUT_FORMATS, "input_format", "read")


def output_format(value: Any) -> str:
    return _check(value, OUTPUT_FORMATS, "output_format", "write")
