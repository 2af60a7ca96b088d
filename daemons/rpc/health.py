"""Keeps a handler's `health()` note true while its daemon runs.

The note (a missing back end, a missing directory, an unset option) is rechecked every
`health_interval` seconds by a small thread, and at once when the worker gets SIGUSR1, which
`edeposit-amqpd status` sends before it reads the notes; so a note disappears once its cause is fixed,
without a restart. The note file is rewritten in place at every check (an empty file: no note), so a
worker that runs as an unprivileged user needs no write access to the notes directory, and a reader
can tell a fresh check by the file's modification time.

Note: `health()` is called from that thread while the main thread serves messages; the hooks of the
built-in handlers only look (files, sockets, commands on PATH) and change nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from daemons.common.processes import started_at
from daemons.rpc.settings import DaemonSettings

RECHECK_SIGNAL = signal.SIGUSR1
Health = Callable[[], "str | None"]


def write_note(path: Path, note: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{note}\n" if note else "")


class HealthWatch(threading.Thread):
    def __init__(self, settings: DaemonSettings, health: Health, log: logging.Logger) -> None:
        super().__init__(name=f"{settings.name}-health", daemon=True)
        self.path = settings.health_note_path
        self.interval = settings.health_interval
        self.health = health
        self.log = log
        self.wake = threading.Event()
        self.last: str | None = None

    def check(self) -> None:
        try:
            note = self.health()
        except Exception as exc:  # a broken health() must not end the worker
            note = f"health() failed: {type(exc).__name__}: {exc}"
        if note != self.last:
            if note:
                self.log.warning("back end problem: %s", note)
            elif self.last:
                self.log.info("back end problem solved: %s", self.last)
            self.last = note
        try:
            write_note(self.path, note)
        except OSError as exc:
            self.log.warning("cannot write the health note %s: %s", self.path, exc.strerror)

    def run(self) -> None:
        while True:
            self.wake.wait(self.interval)
            self.wake.clear()
            self.check()


def watch(settings: DaemonSettings, health: Health, log: logging.Logger) -> HealthWatch:
    """Check once now, then keep checking (main thread only: it installs the SIGUSR1 handler)."""
    watcher = HealthWatch(settings, health, log)
    signal.signal(RECHECK_SIGNAL, lambda *_: watcher.wake.set())
    watcher.check()
    watcher.start()
    return watcher


def refresh(notes: Iterable[tuple[Path, list[int]]], timeout: float = 2.0) -> None:
    """Ask running workers to recheck their notes now and wait (up to `timeout`) until they did.

    `notes`: a note file with its workers' pids. Only a worker that wrote the note since it started is
    asked: it has the SIGUSR1 handler (the default action would end it).
    """
    asked: list[tuple[Path, float]] = []
    for path, pids in notes:
        try:
            written = path.stat().st_mtime
        except OSError:
            continue
        sent = False
        for pid in pids:
            started = started_at(pid)
            if started is not None and written > started:
                try:
                    os.kill(pid, RECHECK_SIGNAL)
                    sent = True
                except OSError:  # gone, or another user's and this is not root
                    continue
        if sent:
            asked.append((path, written))
    deadline = time.monotonic() + timeout
    while asked and time.monotonic() < deadline:
        asked = [(path, written) for path, written in asked if _mtime(path) <= written]
        if asked:
            time.sleep(0.02)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
