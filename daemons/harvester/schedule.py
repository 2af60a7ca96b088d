"""The harvester's own clock: a thread that runs a harvest every `interval` seconds and publishes what is new."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class HarvestSchedule:
    """Calls `run_round()` every `interval` seconds (the first time after one interval) until `stop()`.

    Note: a round that fails is logged and simply retried on the next tick; titles it could not
    publish were not remembered as sent, so nothing is lost.
    """

    def __init__(self, interval: float, run_round: Callable[[], object], log: logging.Logger,
                 retryable: tuple[type[BaseException], ...] = ()) -> None:
        self.interval = interval
        self.run_round = run_round
        self.log = log
        self.retryable = retryable
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="harvest-schedule", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_round()
            except self.retryable as exc:
                self.log.warning("scheduled harvest not published (%s); the titles stay unsent until the next "
                                 "round in %s s", exc or type(exc).__name__, self.interval)
            except Exception:
                self.log.exception("scheduled harvest failed; next round in %s s", self.interval)
