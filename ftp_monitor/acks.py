"""Which published messages a broker's confirms settle, for a channel in confirm mode.

Why a module of its own: RabbitMQ does not promise that confirms come in delivery-tag order. It may
ack a tag alone before a ``multiple`` ack of the older ones (seen: tag 5 alone, then 4 with
``multiple``), so a tag acked early must be remembered until everything older is acked too. The
ledger hands settled messages back in the order they were published, so the caller can report
batches in order.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")


class ConfirmLedger(Generic[Item]):
    """Published, not yet confirmed messages of one channel, by delivery tag (ascending)."""

    def __init__(self) -> None:
        self._waiting: collections.deque[tuple[int, Item]] = collections.deque()
        self._early: set[int] = set()  # tags acked alone while an older tag still waits
        self.add = self._waiting.append  # add((tag, item)); tags must grow, as the channel counts them

    def __len__(self) -> int:
        return len(self._waiting)

    def __iter__(self) -> Iterator[tuple[int, Item]]:
        return iter(self._waiting)

    def confirm(self, tag: int, multiple: bool) -> list[tuple[int, Item]]:
        """What this ack settles, oldest first: everything up to `tag` that nothing older holds back."""
        waiting, early = self._waiting, self._early
        settled: list[tuple[int, Item]] = []
        if multiple:
            while waiting and waiting[0][0] <= tag:
                settled.append(waiting.popleft())
            if early:
                early.difference_update([t for t in early if t <= tag])
        elif waiting and waiting[0][0] == tag:
            settled.append(waiting.popleft())
        elif waiting and tag > waiting[0][0]:
            early.add(tag)
        while early and waiting and waiting[0][0] in early:
            early.discard(waiting[0][0])
            settled.append(waiting.popleft())
        return settled

    def clear(self) -> None:
        """The channel is gone: its tags mean nothing on the next one."""
        self._waiting.clear()
        self._early.clear()
