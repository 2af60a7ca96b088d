"""Publishes batches of messages with publisher confirms, reconnecting with backoff when the broker goes away.

pika's SelectConnection runs on a thread of its own so a whole batch goes out at once and the broker's
(multiple) acks confirm it; `publish()` returns only when every message of the batch is confirmed and
raises `PublishFailed` otherwise; the caller then sends the same batch again (same message ids), so a
lost connection costs duplicates, never lost or reordered records. `send()` and `wait()` split
`publish()`, so the caller can prepare the next batch while the broker works on this one.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

from daemons.rpc import topology
from daemons.rpc.backoff import Backoff
from daemons.rpc.nodes import NodeReport, label
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from ftp_monitor.events import Outgoing

RECOVERABLE = (pika.exceptions.AMQPError, ConnectionError, OSError)
_WAIT_SLICE = 0.2


class PublishFailed(RuntimeError):
    """The batch was not confirmed (connection lost, nack, timeout or stop); send it again later."""


@dataclass
class Ticket:
    """A batch on its way to the broker; `done` is set once it is confirmed or failed (`error`)."""

    messages: Sequence[Outgoing]
    pending: collections.deque[int] = field(default_factory=collections.deque)
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None

    def fail(self, why: str) -> None:
        if not self.done.is_set():
            self.error = why
            self.done.set()


class ConfirmingPublisher:
    def __init__(self, amqp: AMQPSettings, settings: DaemonSettings, extra_bindings: Sequence[tuple[str, str]] = (),
                 log: logging.Logger | None = None) -> None:
        self.amqp = amqp
        self.settings = settings
        self.extra_bindings = tuple(extra_bindings)  # (queue, routing key) on the daemon's exchange
        self.log = log or logging.getLogger(f"edeposit.{settings.name}")
        self._backoff = Backoff(cap=amqp.reconnect_max_delay)
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._connection: SelectConnection | None = None
        self._channel: Any = None
        self._next_tag = 0
        self._attempts = 0
        self._node = ""
        self._report = NodeReport(settings.state_dir, settings.name)  # which node, for `status`
        self._batch: Ticket | None = None
        self._thread = threading.Thread(target=self._run, name=f"{settings.name}-publisher", daemon=True)

    # -- caller side -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def publish(self, messages: Sequence[Outgoing], stop: threading.Event | None = None,
                timeout: float = 60.0) -> None:
        """Return once the broker confirmed every message; PublishFailed otherwise."""
        self.wait(self.send(messages, stop, timeout), stop, timeout)

    def send(self, messages: Sequence[Outgoing], stop: threading.Event | None = None,
             timeout: float = 60.0) -> Ticket:
        """Hand the batch to the connection and return at once; `wait()` for its confirm.

        Note: one batch at a time: wait for a batch before sending the next.
        """
        batch = Ticket(messages)
        if not messages:
            batch.done.set()
            return batch
        self._wait(self._ready, stop, time.monotonic() + timeout, "not connected to the broker")
        connection = self._connection
        if connection is None:
            raise PublishFailed("not connected to the broker")
        try:
            connection.ioloop.add_callback_threadsafe(lambda: self._send(batch))
        except Exception as exc:  # the loop is already gone
            raise PublishFailed(f"connection closed: {exc}") from exc
        return batch

    def wait(self, ticket: Ticket, stop: threading.Event | None = None, timeout: float = 60.0) -> None:
        """Return once the broker confirmed every message of `ticket`; PublishFailed otherwise."""
        try:
            self._wait(ticket.done, stop, time.monotonic() + timeout,
                       f"no confirm for {len(ticket.messages)} message(s) within {timeout} s")
        except PublishFailed:
            self._drop_connection()
            raise
        if ticket.error:
            raise PublishFailed(ticket.error)

    def _wait(self, event: threading.Event, stop: threading.Event | None, deadline: float, why: str) -> None:
        while not event.wait(_WAIT_SLICE):
            if stop is not None and stop.is_set():
                raise PublishFailed("stopping")
            if time.monotonic() > deadline:
                raise PublishFailed(why)

    def close(self) -> None:
        self._closing.set()
        self._drop_connection()
        self._thread.join(timeout=10)

    def _drop_connection(self) -> None:
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(lambda: self._close_connection(connection))
            except Exception:  # already closed
                pass

    # -- the connection's thread -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                self._declare()
                # SelectConnection takes one node: each attempt takes the next one of [amqp] host.
                nodes = self.amqp.node_parameters(self.settings.vhost, name=f"edeposit-amqpd {self.settings.name}")
                self._attempts += 1
                node = nodes[(self._attempts - 1) % len(nodes)]
                self._node = label(node)
                connection = SelectConnection(
                    node,
                    on_open_callback=self._on_open,
                    on_open_error_callback=self._on_open_error,
                    on_close_callback=self._on_closed,
                )
                self._connection = connection
                connection.ioloop.start()
            except RECOVERABLE as exc:
                self.log.warning("broker connection failed (%s: %s)", type(exc).__name__, exc or "no detail")
            finally:
                self._ready.clear()
                self._connection = None
            if not self._closing.is_set():
                delay = self._backoff.next_delay()
                self.log.warning("reconnect attempt %d in %.1f s", self._backoff.attempt, delay)
                self._closing.wait(delay)

    def _declare(self) -> None:
        """Exchange, output queue and binding (and the event queue when configured), on a short connection."""
        params = self.amqp.node_parameters(self.settings.vhost, name=f"edeposit-amqpd {self.settings.name} setup")
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            topology.declare(channel, self.settings)
            for queue, key in self.extra_bindings:
                arguments = topology.queue_arguments(self.settings.queue_type)
                channel.queue_declare(queue=queue, durable=True, arguments=arguments)
                channel.queue_bind(queue=queue, exchange=self.settings.exchange, routing_key=key)
        finally:
            if connection.is_open:
                connection.close()

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: SelectConnection, error: BaseException) -> None:
        self.log.warning("cannot open a broker connection: %s", error)
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        self._channel = channel
        self._next_tag = 0
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: Any) -> None:
        self._backoff.reset()
        self.log.info("publishing to exchange %s on vhost %s at node %s with confirms", self.settings.exchange,
                      self.settings.vhost, self._node)
        self._report.connected(self._node)
        self._ready.set()

    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        self._ready.clear()
        self._fail_batch(f"channel closed: {reason}")
        connection = self._connection
        if connection is not None:
            self._close_connection(connection)

    def _on_closed(self, connection: SelectConnection, reason: BaseException) -> None:
        self._report.disconnected()
        self._ready.clear()
        self._channel = None
        self._fail_batch(f"connection closed: {reason}")
        if not self._closing.is_set():
            self.log.warning("broker connection lost: %s", reason)
        connection.ioloop.stop()

    @staticmethod
    def _close_connection(connection: SelectConnection) -> None:
        if connection.is_open:
            connection.close()
        elif connection.is_closed:
            connection.ioloop.stop()

    def _fail_batch(self, why: str) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            batch.fail(why)

    def _send(self, batch: Ticket) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            batch.fail("channel is not open")
            return
        self._batch = batch
        now = int(time.time())
        publish: Callable[..., None] = channel.basic_publish
        for message in batch.messages:
            self._next_tag += 1
            batch.pending.append(self._next_tag)
            # Old consumers read the UUID header of what they get (ImportRequest); events have message_id only.
            headers = {"UUID": message.message_id} if message.old_style else None
            publish(self.settings.exchange, message.routing_key, message.body, pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=message.message_id, headers=headers,
                timestamp=now, type="response" if message.old_style else "event",
            ))

    def _on_confirm(self, frame: Any) -> None:
        batch = self._batch
        method = frame.method
        if batch is None:
            return
        if isinstance(method, Basic.Nack):
            self._fail_batch(f"the broker refused message {method.delivery_tag} (nack)")
            return
        pending = batch.pending
        if method.multiple:
            while pending and pending[0] <= method.delivery_tag:
                pending.popleft()
        elif pending and pending[0] == method.delivery_tag:
            pending.popleft()
        elif method.delivery_tag in pending:
            pending.remove(method.delivery_tag)
        if not pending:
            self._batch = None
            batch.done.set()
