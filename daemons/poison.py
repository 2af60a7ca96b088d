"""Counts how often a message was in hand when its worker died, so a poison message is not retried forever.

Classic queues keep no delivery count, so each worker writes a marker before it runs a handler and
removes it when the message is finished, whatever the outcome. A marker left behind means the process
died with that message in hand; the count in it says how many times.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any


class PoisonTracker:
    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(body: bytes, properties: Any) -> str:
        digest = hashlib.sha256(body)
        headers = properties.headers or {}
        for part in (properties.message_id, properties.correlation_id, headers.get("UUID")):
            digest.update(b"\0" + repr(part).encode())
        return digest.hexdigest()

    def deaths(self, key: str) -> int:
        try:
            return int((self.directory / key).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def begin(self, key: str) -> int:
        """Record one more attempt; return how many earlier attempts died."""
        deaths = self.deaths(key)
        path = self.directory / key
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(str(deaths + 1))
        os.replace(tmp, path)
        return deaths

    def end(self, key: str) -> None:
        try:
            (self.directory / key).unlink()
        except FileNotFoundError:
            pass

    def is_poison(self, deaths: int) -> bool:
        return deaths >= self.limit
