"""One channel's publisher confirms and returns, kept by the thread that owns the connection.

Every publish is mandatory and tracked until the broker's confirm. The owner thread publishes with a
callback, which it calls with an `Outcome` when the broker confirms (ack or nack, and whether the
message came back unroutable first), or with SessionLost when the channel goes away before that. A
thread that must wait for the confirm passes `settle(future)`.

Note: RabbitMQ sends `basic.return` for an unroutable mandatory message before the `basic.ack` of that
message, so a return marks the oldest unconfirmed publish with the same exchange, routing key and body.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.spec import Basic

RECOVERABLE: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
)


class SessionLost(ConnectionError):
    """The connection or channel a message came on is gone; the broker will redeliver the message."""


class AnswerRefused(RuntimeError):
    """The broker closed the channel over this publish (e.g. a message bigger than its max_message_size)."""


@dataclass(frozen=True)
class Outcome:
    """How the broker took one publish."""

    nacked: bool = False
    returned: str | None = None  # "312 NO_ROUTE" when it came back unroutable

    @property
    def delivered(self) -> bool:
        return not self.nacked and self.returned is None


# Called once per publish, on the owner thread, with the Outcome or the exception that ended it.
Settled = Callable[["Outcome | BaseException"], None]


def settle(future: Future[Outcome]) -> Settled:
    """A callback that completes `future`, for a thread that waits on it."""

    def done(result: Outcome | BaseException) -> None:
        if future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    return done


@dataclass(slots=True)
class _Pending:
    exchange: str
    routing_key: str
    body: bytes
    done: Settled
    returned: str | None = None


class Confirms:
    """Publishes on one channel in confirm mode; call only on the connection's owner thread."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._last_tag = 0
        self._pending: dict[int, _Pending] = {}

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: pika.BasicProperties,
                done: Settled) -> None:
        try:
            self.channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
        except RECOVERABLE as exc:
            done(SessionLost(f"cannot publish: {type(exc).__name__}: {exc}"))
            return
        self._last_tag += 1
        self._pending[self._last_tag] = _Pending(exchange, routing_key, body, done)

    def on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        for pending in self._pending.values():
            if (pending.returned is None and pending.exchange == method.exchange
                    and pending.routing_key == method.routing_key and pending.body == body):
                pending.returned = f"{method.reply_code} {method.reply_text}"
                return

    def on_confirm(self, frame: Any) -> None:
        method = frame.method
        nacked = isinstance(method, Basic.Nack)
        if method.multiple:
            tags = [tag for tag in self._pending if tag <= method.delivery_tag]
        else:
            tags = [method.delivery_tag]
        for tag in tags:
            pending = self._pending.pop(tag, None)
            if pending is not None:
                pending.done(Outcome(nacked=nacked, returned=pending.returned))

    def fail_all(self, exc: BaseException) -> None:
        """The channel is gone: every publish still waiting gets `exc`."""
        pending, self._pending = self._pending, {}
        for item in pending.values():
            item.done(exc)
