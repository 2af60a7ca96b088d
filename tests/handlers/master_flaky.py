"""Test handler that fails to start while its `crash_file` option names an existing file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemons.rpc.handler import HandlerContext

OPTIONS_SPEC = "crash_file = string"


def configure(context: HandlerContext) -> None:
    crash_file = Path(context.options["crash_file"])
    if crash_file.exists():
        raise RuntimeError(f"back end refused to start ({crash_file} exists)")


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    return message
