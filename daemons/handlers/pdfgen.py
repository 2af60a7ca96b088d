"""pdfgen: PDF rendering. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

GenerateContract = namedtuple("GenerateContract", "firma pravni_forma sidlo ic dic zastoupen")
RST2PDF = namedtuple("RST2PDF", "rst_content style header footer")
PDF = namedtuple("PDF", "b64_content")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the PDF rendering back end is not available in this build")
