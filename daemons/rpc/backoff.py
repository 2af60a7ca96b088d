"""Capped exponential backoff with jitter for reconnecting to the broker."""

from __future__ import annotations

import random


class Backoff:
    """Delays double from `initial` up to `cap`; each is drawn from [delay/2, delay] so workers spread out."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.cap = max(cap, initial)
        self._rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.initial * (2 ** self.attempt))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0
