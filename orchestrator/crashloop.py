"""Crash-loop detection: a daemon that crashes `limit` times within `window` seconds must be stopped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrashWindow:
    limit: int
    window: float

    def add(self, crashes: list[float], now: float) -> list[float]:
        """The crash times still inside the window once a crash at `now` is counted."""
        return [t for t in crashes if now - t < self.window] + [now]

    def is_looping(self, crashes: list[float]) -> bool:
        return len(crashes) >= self.limit

    def reason(self, crashes: list[float], last_error: str | None) -> str:
        cause = last_error or "no reason recorded"
        return (f"stopped after crashing {len(crashes)} times within {self.window:g} s (crash_limit = {self.limit}, "
                f"crash_window = {self.window:g}); last error: {cause}")
