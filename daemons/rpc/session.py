"""One broker connection shared by a worker's threads, and the keeper that services it during long work.

pika's BlockingConnection is not thread-safe, but it has no fixed thread either: whichever thread
holds `Session.lock` may drive it. The worker's main thread drives it while it waits for messages and
while it publishes; while a handler runs, the `ConnectionKeeper` thread takes over, so heartbeats and
broker frames keep flowing during a ten-minute conversion.

Note: a handler that finishes within one keeper tick never wakes the keeper, so the fast path has no
hand-over between threads at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions

RECOVERABLE: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)


class SessionLost(ConnectionError):
    """The connection a message came on is gone; the broker will redeliver the message."""


class Session:
    """A connection and its channel, used by one thread at a time."""

    def __init__(self, connection: pika.BlockingConnection, channel: Any) -> None:
        self.connection = connection
        self.channel = channel
        self.lock = threading.Lock()
        self.error: BaseException | None = None

    @property
    def alive(self) -> bool:
        return self.error is None

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise SessionLost(f"connection to the broker was lost: {self.error}")

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` with the connection to itself; SessionLost if the connection is or goes away."""
        with self.lock:
            self.check()
            try:
                return fn()
            except RECOVERABLE as exc:
                self.fail(exc)
                raise SessionLost(f"connection to the broker was lost: {exc}") from exc


class ConnectionKeeper:
    """Services the connection (heartbeats, incoming frames) while the main thread runs a handler."""

    def __init__(self, session: Session, tick: float = 0.1) -> None:
        self.session = session
        self.tick = tick
        self._busy_since: float | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connection-keeper", daemon=True)
        self._thread.start()

    def busy(self) -> None:
        """A handler starts: from one tick on, the keeper drives the connection."""
        self._busy_since = time.monotonic()

    def idle(self) -> None:
        self._busy_since = None

    def _run(self) -> None:
        while not self._closed.wait(self.tick):
            since = self._busy_since
            if since is None or time.monotonic() - since < self.tick:
                continue
            if not self.session.lock.acquire(blocking=False):
                continue
            try:
                if self._busy_since is not None and self.session.alive:
                    self.session.connection.process_data_events(time_limit=0)
            except RECOVERABLE as exc:
                self.session.fail(exc)
            finally:
                self.session.lock.release()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
