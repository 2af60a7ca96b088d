"""calibre: converts e-books between formats with calibre's `ebook-convert`.

`ConversionRequest(input_format, output_format, b64_data)` is answered with
`ConversionResponse(format, b64_data, protocol)`, `protocol` being ebook-convert's own output.
"""

from __future__ import annotations

import base64
import binascii
import shutil
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

from daemons.calibre.convert import ConversionFailed, ConversionTimeout, convert
from daemons.calibre.formats import input_format, output_format
from daemons.rpc.handler import HandlerContext

__all__ = ["BackendUnavailable", "BadRequest", "ConversionFailed", "ConversionRequest", "ConversionResponse",
           "ConversionTimeout", "OPTIONS_SPEC", "STRUCTURES", "configure", "health", "react"]

ConversionRequest = namedtuple("ConversionRequest", "input_format output_format b64_data")
ConversionResponse = namedtuple("ConversionResponse", "format b64_data protocol")

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    ConversionRequest, ConversionResponse
)

OPTIONS_SPEC = """
ebook_convert = string(default="ebook-convert")
timeout = integer(min=1, default=600)
temp_dir = string(default=None)
"""


class BackendUnavailable(RuntimeError):
    """ebook-convert is not installed (or not where `ebook_convert` says)."""


class BadRequest(ValueError):
    """The message itself is unusable (e.g. b64_data that is not base64, or empty)."""


@dataclass(frozen=True)
class CalibreSettings:
    ebook_convert: str = "ebook-convert"
    timeout: int = 600
    temp_dir: str | None = None


_settings = CalibreSettings()


def configure(context: HandlerContext) -> None:
    global _settings
    options = context.options
    _settings = CalibreSettings(
        ebook_convert=options.get("ebook_convert") or "ebook-convert",
        timeout=int(options.get("timeout") or 600),
        temp_dir=options.get("temp_dir") or None,
    )


def health() -> str | None:
    if shutil.which(_settings.ebook_convert) is None:
        return f"{_settings.ebook_convert} not found: apt-get install calibre (or set ebook_convert)"
    return None


def _decode(b64_data: Any) -> bytes:
    if not isinstance(b64_data, str | bytes):
        raise BadRequest(f"ConversionRequest.b64_data must be a base64 string, not {type(b64_data).__name__}")
    try:
        data = base64.b64decode(b64_data)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"ConversionRequest.b64_data is not valid base64 ({exc}); send the book base64-encoded") \
            from exc
    if not data:
        raise BadRequest("ConversionRequest.b64_data is empty; send the book to convert, base64-encoded")
    return data


def convert_book(message: ConversionRequest) -> ConversionResponse:
    note = health()
    if note:
        raise BackendUnavailable(note)
    source_format = input_format(message.input_format)
    target_format = output_format(message.output_format)
    data = _decode(message.b64_data)
    result = convert(data, source_format, target_format, _settings.ebook_convert, _settings.timeout,
                     _settings.temp_dir)
    return ConversionResponse(target_format, base64.b64encode(result.data).decode("ascii"), result.protocol)


def react(message: Any, send_back: Any) -> Any:
    if isinstance(message, ConversionRequest):
        return convert_book(message)
    raise BadRequest(f"calibre cannot answer {type(message).__name__}; send ConversionRequest")
