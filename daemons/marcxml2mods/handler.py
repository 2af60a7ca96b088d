"""marcxml2mods: MARC XML (MARC21 slim or Aleph's OAI-MARC) to MODS 3, one MODS document per record.

The built-in mapping is `daemons.common.mods`; the `xslt` option names a site's own stylesheet instead.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from daemons.common.marc_to_mods import SiteStylesheet, StylesheetError, convert
from daemons.rpc.handler import HandlerContext

ConversionRequest = namedtuple("ConversionRequest", "marc_xml uuid url")
ConversionResponse = namedtuple("ConversionResponse", "mods_files")

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    ConversionRequest, ConversionResponse
)

OPTIONS_SPEC = """
xslt = string(default=None)
"""

_state: dict[str, Any] = {"stylesheet": None, "problem": None}


def configure(context: HandlerContext) -> None:
    """Load the site's stylesheet once; a broken one is reported by health() and by every request."""
    _state.update(stylesheet=None, problem=None)
    path = context.options.get("xslt")
    if path:
        try:
            _state["stylesheet"] = SiteStylesheet(path)
        except StylesheetError as exc:
            _state["problem"] = str(exc)


def health() -> str | None:
    """The configured stylesheet's problem, if it could not be loaded."""
    return _state["problem"]


def _text(message: ConversionRequest, name: str) -> str | None:
    value = getattr(message, name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"ConversionRequest.{name} must be a string, got {type(value).__name__} {value!r}")
    return value


def react(message: Any, send_back: Any) -> Any:
    """One MODS document per record of the request's MARC XML."""
    if not isinstance(message, ConversionRequest):
        raise TypeError(f"marcxml2mods cannot handle {type(message).__name__}; send a ConversionRequest")
    if _state["problem"]:
        raise StylesheetError(_state["problem"])
    marc_xml, uuid, url = _text(message, "marc_xml"), _text(message, "uuid"), _text(message, "url")
    if not marc_xml:
        raise ValueError("ConversionRequest.marc_xml is empty: send the record's MARC XML (or OAI-MARC) text")
    stylesheet = _state["stylesheet"]
    if stylesheet is not None:
        return ConversionResponse(stylesheet.convert(marc_xml, uuid, url))
    return ConversionResponse(convert(marc_xml, uuid, url))
