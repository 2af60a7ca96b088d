"""One channel's publisher confirms and returns, kept by the thread that owns the connection.

Every publish is mandatory and waits for the broker's confirm. A handler thread asks the owner thread to
publish and gets a `concurrent.futures.Future`; the owner completes it with an `Outcome` when the
broker confirms (ack or nack, and whether the message came back unroutable first), or with SessionLost
when the channel goes away before that.

Note: RabbitMQ sends `basic.return` for an unroutable mandatory message before the `basic.ack` of that
message, so a return marks the oldest unconfirmed publish with the same exchange, routing key and body.
"""

from __future__ import annotations

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


@dataclass
class _Pending:
    exchange: str
    routing_key: str
    body: bytes
    future: Future[Outcome]
    returned: str | None = None


class Confirms:
    """Publishes on one channel in confirm mode; call only on the connection's owner thread."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._last_tag = 0
        self._pending: dict[int, _Pending] = {}

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: pika.BasicProperties,
                future: Future[Outcome]) -> None:
        try:
            self.channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
        except RECOVERABLE as exc:
            future.set_exception(SessionLost(f"cannot publish: {type(exc).__name__}: {exc}"))
            return
        self._last_tag += 1
        self._pending[self._last_tag] = _Pending(exchange, routing_key, body, future)

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
            if pending is not None and not pending.future.done():
                pending.future.set_result(Outcome(nacked=nacked, returned=pending.returned))

    def fail_all(self, exc: BaseException) -> None:
        """The channel is gone: every publish still waiting gets `exc`."""
        pending, self._pending = self._pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(exc)
