"""calibre: calibre's ebook-convert. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

ConversionRequest = namedtuple("ConversionRequest", "input_format output_format b64_data")
ConversionResponse = namedtuple("ConversionResponse", "format b64_data protocol")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the calibre's ebook-convert back end is not available in this build")
