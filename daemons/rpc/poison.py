"""Counts how often a message was in hand when its worker died, so a poison message is not retried forever.

Classic queues keep no delivery count, so each worker process keeps one small slot file
(`<directory>/<pid>-<start>`) holding the key of the message in hand. The slot is memory-mapped, so
marking a message costs no system call; the page belongs to the file, so it outlives a killed process.
A process that dies leaves its slot holding that key. When the broker redelivers a message, the slots
of dead processes holding its key are the deaths it caused; once the message is answered, those slots
are removed.

Quorum queues count for us: the broker puts `x-delivery-count` (how often the message was handed out
and came back unacked) on every redelivery, and this count holds across hosts and broker nodes, which
the slot files of one host cannot see. `broker_says_poison` applies the rule to it.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import time
from pathlib import Path
from typing import Any

from daemons.common.processes import pid_alive

_KEY_BYTES = 64  # hex sha256
_EMPTY = b" " * _KEY_BYTES


class PoisonTracker:
    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        directory.mkdir(parents=True, exist_ok=True)
        self.slot = directory / f"{os.getpid()}-{time.time_ns()}"
        fd = os.open(self.slot, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, _KEY_BYTES)
            self._map = mmap.mmap(fd, _KEY_BYTES)
        finally:
            os.close(fd)
        self._clear()

    @staticmethod
    def key(body: bytes, properties: Any) -> str:
        digest = hashlib.sha256(body)
        headers = properties.headers or {}
        for part in (properties.message_id, properties.correlation_id, headers.get("UUID")):
            digest.update(b"\0" + repr(part).encode())
        return digest.hexdigest()

    def _clear(self) -> None:
        self._map[:] = _EMPTY

    def _dead_slots_holding(self, key: str) -> list[Path]:
        found = []
        for slot in self.directory.iterdir():
            if slot == self.slot or _owner_alive(slot):
                continue
            try:
                if slot.read_bytes()[:_KEY_BYTES].decode("ascii", "replace") == key:
                    found.append(slot)
            except FileNotFoundError:
                continue
        return found

    def begin(self, key: str, redelivered: bool) -> int:
        """Mark `key` as in hand; return how many earlier attempts died (looked up only on redelivery)."""
        deaths = len(self._dead_slots_holding(key)) if redelivered else 0
        self._map[:] = key.encode("ascii")
        return deaths

    def end(self, key: str, redelivered: bool) -> None:
        """The message is finished (whatever the outcome): forget it and the deaths it caused."""
        self._clear()
        if redelivered:
            for slot in self._dead_slots_holding(key):
                slot.unlink(missing_ok=True)

    def is_poison(self, deaths: int) -> bool:
        return deaths >= self.limit

    def close(self) -> None:
        """Remove this process's slot; a clean exit leaves nothing behind."""
        self._map.close()
        self.slot.unlink(missing_ok=True)


def delivery_count(properties: Any) -> int:
    """How often a quorum queue already handed this message out (0 on the first delivery)."""
    value = (properties.headers or {}).get("x-delivery-count", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def broker_says_poison(properties: Any, limit: int) -> bool:
    """A quorum queue's message that came back `limit` times is answered with an error, not run again.

    Note: the count grows with every return: a crash, a lost connection, a give-back at shutdown alike,
    so `delivery_limit` should leave room for failovers and restarts.
    """
    return delivery_count(properties) >= limit


def _owner_alive(slot: Path) -> bool:
    pid = slot.name.split("-", 1)[0]
    return pid.isdigit() and pid_alive(int(pid))
