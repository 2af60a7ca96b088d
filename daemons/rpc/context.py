"""What a handler gets to know about its daemon when it is configured."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _not_connected(value: Any, routing_key: str | None = None) -> None:
    raise RuntimeError("publish() works only inside a running worker")


@dataclass(frozen=True)
class HandlerContext:
    """Passed to a handler module's optional `configure(context)` before the first message."""

    name: str
    options: dict[str, Any]
    data_dir: Path
    state_dir: Path
    shared: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("edeposit.handler"))
    # publish(value, routing_key=None): send a message of the handler's own accord (e.g. a scheduled
    # harvest) to the daemon's exchange, on the output key by default; blocks until the broker confirmed
    # it; raises daemons.rpc.worker.SessionLost while the broker is away (try again later).
    publish: Callable[..., None] = _not_connected
