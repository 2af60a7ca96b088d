"""What a handler gets to know about its daemon when it is configured."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HandlerContext:
    """Passed to a handler module's optional `configure(context)` before the first message."""

    name: str
    options: dict[str, Any]
    data_dir: Path
    state_dir: Path
    shared: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("edeposit.handler"))
