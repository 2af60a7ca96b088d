"""Progress of a ProgressDownload: at most `steps` messages, the last one always for the whole file.

Old clients divide the download into `steps` parts. With a Content-Length, a message goes out whenever
the download crosses into a higher step, so `step` rises strictly from 1 to `steps` and the last message
(step == steps) carries the full size, however small the file is. Without a Content-Length the fraction
is unknown: messages carry `step = None` and `content_length = None` every `progress_bytes`, then a last
message with step == steps and the final size as `content_length`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_STEPS = 10_000


def check_steps(steps: object) -> int:
    """`steps` when it is a whole number from 1 to MAX_STEPS; ValueError naming the fix otherwise."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"ProgressDownload.steps = {steps!r}: expected a whole number from 1 to {MAX_STEPS}")
    return steps


class ProgressReporter:
    """Turns byte counts into Progress messages sent through `send_back`."""

    def __init__(self, url: str, steps: int, content_length: int | None, progress_bytes: int,
                 make: Callable[..., Any], send_back: Callable[[Any], None]) -> None:
        self.url = url
        self.steps = check_steps(steps)
        self.content_length = content_length
        self.progress_bytes = progress_bytes
        self.make = make
        self.send_back = send_back
        self.last_step = 0
        self.last_reported_bytes = 0

    def downloaded(self, count: int) -> None:
        """Called after each chunk with the bytes received so far."""
        if self.content_length is None:
            if count - self.last_reported_bytes >= self.progress_bytes:
                self.last_reported_bytes = count
                self._send(None, count, None)
            return
        if self.content_length == 0:
            return
        step = min(self.steps, count * self.steps // self.content_length)
        if step > self.last_step and step < self.steps:
            self._send(step, count, self.content_length)

    def finished(self, total: int) -> None:
        """The last message: step == steps, the whole size known."""
        self._send(self.steps, total, total)

    def _send(self, step: int | None, count: int, length: int | None) -> None:
        if step is not None:
            self.last_step = step
        self.send_back(self.make(url=self.url, step=step, downloaded=count, content_length=length))
