"""Test handler whose back end is a file: `health()` notes it while the file is missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemons.rpc.handler import HandlerContext

OPTIONS_SPEC = """
needs = string
"""
_needed: Path | None = None


def configure(context: HandlerContext) -> None:
    global _needed
    _needed = Path(context.options["needs"])


def health() -> str | None:
    if _needed is not None and not _needed.exists():
        return f"{_needed} is missing: create it"
    return None


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    return message
