"""Test handler for the master's tests: answers every message with the message itself."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

Ping = namedtuple("Ping", ["text"])


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    return message
