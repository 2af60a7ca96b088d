"""marcxml2mods: MARC XML to MODS. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

ConversionRequest = namedtuple("ConversionRequest", "marc_xml uuid url")
ConversionResponse = namedtuple("ConversionResponse", "mods_files")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the MARC XML to MODS back end is not available in this build")
