"""Test handler that starts a helper process, as calibre starts ebook-convert; its pid goes to
`<data_dir>/helper.pid` so a test can check that stopping the daemon stops the helper too."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from daemons.rpc.handler import HandlerContext

_helper: subprocess.Popen[bytes] | None = None


def configure(context: HandlerContext) -> None:
    global _helper
    _helper = subprocess.Popen(["sleep", "600"])
    context.data_dir.mkdir(parents=True, exist_ok=True)
    (context.data_dir / "helper.pid").write_text(str(_helper.pid))


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    return message
