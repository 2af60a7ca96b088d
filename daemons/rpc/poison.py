"""Counts how often a message was in hand when its worker died, so a poison message is not retried forever.

Classic queues keep no delivery count, so each worker process keeps one small slot file,
`<directory>/<pid>-<start time>`, holding the key of the message in hand. Pid and start time (clock ticks
since boot, /proc/<pid>/stat field 22) together name one process, so a later process that reuses the pid
is never mistaken for the slot's owner. The slot is memory-mapped, so marking a message costs no system
call; the page belongs to the file, so it outlives a killed process.

Only a death leaves a key behind: a worker that finishes its message, gives it back (draining at a stop,
restart or reload by the master) or loses the connection clears its slot first. When the broker
redelivers a message, the slots of dead processes holding its key are the deaths it caused; once the
message is answered, those slots are removed. At start, slots of dead processes that hold no key are
removed, and so are death records older than `RECORD_DAYS`, whose message never came back.

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

from daemons.common.processes import process_start_time, same_process_alive

_KEY_BYTES = 64  # hex sha256
_EMPTY = b" " * _KEY_BYTES
RECORD_DAYS = 7


class PoisonTracker:
    """One process's slot; OSError from its files reaches the caller (a local problem, not the broker's)."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        directory.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        self.slot = directory / f"{pid}-{process_start_time(pid) or 0}"
        fd = os.open(self.slot, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, _KEY_BYTES)
            self._map = mmap.mmap(fd, _KEY_BYTES)
        finally:
            os.close(fd)
        self.release()
        self.collect()

    @staticmethod
    def key(body: bytes, properties: Any) -> str:
        digest = hashlib.sha256(body)
        headers = properties.headers or {}
        for part in (properties.message_id, properties.correlation_id, headers.get("UUID")):
            digest.update(b"\0" + repr(part).encode())
        return digest.hexdigest()

    def release(self) -> None:
        """Nothing in hand: the message was finished, given back or lost with the connection."""
        self._map[:] = _EMPTY

    def collect(self) -> int:
        """Remove slots of dead processes that hold no key, and stale death records; how many went."""
        removed = 0
        too_old = time.time() - RECORD_DAYS * 86400
        for slot in self._dead_slots():
            try:
                held = slot.read_bytes()[:_KEY_BYTES].strip()
                if not held or slot.stat().st_mtime < too_old:
                    slot.unlink(missing_ok=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _dead_slots(self) -> list[Path]:
        return [slot for slot in self.directory.iterdir() if slot != self.slot and not _owner_alive(slot)]

    def _dead_slots_holding(self, key: str) -> list[Path]:
        found = []
        for slot in self._dead_slots():
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
        """The message is answered (whatever the outcome): forget it and the deaths it caused."""
        self.release()
        if redelivered:
            for slot in self._dead_slots_holding(key):
                slot.unlink(missing_ok=True)

    def is_poison(self, deaths: int) -> bool:
        return deaths >= self.limit

    def close(self, keep_death: bool = False) -> None:
        """Remove this process's slot; a clean exit leaves nothing behind. With `keep_death` (the process
        ends over a failure), a key still in hand stays and counts as one death of that message."""
        held = bytes(self._map[:]).strip()
        self._map.close()
        if not (keep_death and held):
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
    pid, _, start = slot.name.partition("-")
    return pid.isdigit() and start.isdigit() and same_process_alive(int(pid), int(start))
