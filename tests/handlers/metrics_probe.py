"""Test handler for the metrics tests: echoes, fails on request, sends progress on request, and logs."""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Callable
from typing import Any

Ping = namedtuple("Ping", ["text"])
log = logging.getLogger("tests.metrics_probe")


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    log.info("handling %s", message.text)
    if message.text.startswith("fail"):
        raise ValueError(f"asked to fail: {message.text}")
    if message.text.startswith("progress"):
        send_back(Ping("halfway"))
    return message
