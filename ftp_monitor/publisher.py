"""Publishes batches of messages with publisher confirms over one connection that one thread owns.

Threads: `ConfirmingPublisher` runs pika's SelectConnection on a thread of its own; every channel call
happens there. Other threads only `submit()` a `Batch`: it goes into an inbox and the I/O loop is woken
with `add_callback_threadsafe`, so a batch leaves at once, without polling. When every message of a
batch is settled, and every batch before it too, `on_confirmed(batch)` is called (on the publisher's
thread), so the caller sees batches confirmed in the order it submitted them.

Settled means one of:

* confirmed: the broker acked it (``basic.ack``, also with ``multiple``);
* undelivered, with the reason in `Batch.undelivered`: larger than the message limit
  (`max_message_bytes`, or the broker's ``max_message_size`` once the broker refused a message for its
  size), or returned as unroutable (``mandatory``) a second time after the topology was declared again.

Failures: a lost connection, a closed channel or a nack is the broker's problem and recoverable: the
connection is (re)opened with capped backoff, walking `AMQPSettings.node_parameters()` in order, and
every message not yet settled is published again, in order and with the same message id
(at-least-once). Any other exception is a bug: it ends the publisher's thread, and
`threading.excepthook` (see `ftp_monitor.service`) ends the process with the traceback.
"""

from __future__ import annotations

import collections
import logging
import re
import socket
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
from ftp_monitor.acks import ConfirmLedger
from ftp_monitor.batching import BatchingIOServices
from ftp_monitor.events import Outgoing

# Broker and network trouble; anything else raised on the publisher's thread is a bug.
RECOVERABLE = (pika.exceptions.AMQPError, ConnectionError, socket.gaierror, TimeoutError)
DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024  # RabbitMQ's default max_message_size
_BROKER_SIZE_LIMIT = re.compile(r"larger than configured max size (\d+)")


@dataclass(eq=False)
class Batch:
    """Messages handed over together; `token` is the caller's own (e.g. the log lines they came from)."""

    messages: Sequence[Outgoing]
    token: Any = None
    confirmed: bool = False  # set (on the publisher's thread) just before on_confirmed(batch)
    undelivered: dict[int, str] = field(default_factory=dict)  # message index -> why it was not delivered
    remaining: int = field(init=False)
    settled: bytearray = field(init=False)
    returned: set[int] = field(default_factory=set)  # indexes returned once as unroutable

    def __post_init__(self) -> None:
        self.remaining = len(self.messages)
        self.settled = bytearray(len(self.messages))

    def settle(self, index: int) -> None:
        if not self.settled[index]:
            self.settled[index] = 1
            self.remaining -= 1


class ConfirmingPublisher:
    def __init__(self, amqp: AMQPSettings, settings: DaemonSettings, extra_bindings: Sequence[tuple[str, str]] = (),
                 log: logging.Logger | None = None, on_confirmed: Callable[[Batch], None] | None = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, mandatory_events: bool = False) -> None:
        self.amqp = amqp
        self.settings = settings
        self.extra_bindings = tuple(extra_bindings)  # (queue, routing key) on the daemon's exchange
        self.log = log or logging.getLogger(f"edeposit.{settings.name}")
        self.on_confirmed = on_confirmed or (lambda batch: None)
        self.max_message_bytes = max_message_bytes
        # Imports must reach a queue; events only when the config names a queue for them (event_queue).
        self.mandatory_events = mandatory_events
        self.connections = 0  # connections that reached confirm mode, for tests and logs
        self._node = ""
        self._node_report = NodeReport(settings.state_dir, settings.name)  # which node, for `status`
        self._backoff = Backoff(cap=amqp.reconnect_max_delay)
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()  # guards _inbox, _loop and _wake_pending: the only state shared
        self._inbox: collections.deque[Batch] = collections.deque()
        self._loop: Any = None
        self._wake_pending = False
        # Publisher thread only:
        self._connection: SelectConnection | None = None
        self._channel: Any = None
        self._opened = False
        self._pending: collections.deque[Batch] = collections.deque()  # submitted, not yet reported
        self._inflight: ConfirmLedger[tuple[Batch, int]] = ConfirmLedger()  # tag -> (batch, index)
        self._returned: dict[int, str] = {}  # tag -> why the broker returned it
        self._redeclaring: list[tuple[Batch, int]] | None = None
        self._next_tag = 0
        self._thread = threading.Thread(target=self._run, name=f"{settings.name}-publisher", daemon=True)

    # -- any thread ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def submit(self, batch: Batch) -> None:
        """Hand a batch over; returns at once. `on_confirmed(batch)` follows once it is settled."""
        with self._lock:
            self._inbox.append(batch)
            if self._loop is not None and not self._wake_pending:
                self._wake_pending = True
                self._loop.add_callback_threadsafe(self._take_inbox)

    def close(self, timeout: float = 10.0) -> None:
        """Close the connection and end the thread; what was not confirmed is simply not reported."""
        self._closing.set()
        with self._lock:
            if self._loop is not None:
                self._loop.add_callback_threadsafe(self._shut_down)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the publisher's thread: connecting --------------------------------------------------------
    def _run(self) -> None:
        while not self._closing.is_set():
            nodes = self.amqp.node_parameters(self.settings.vhost, name=f"edeposit-amqpd {self.settings.name}")
            for params in nodes:
                self._session(params)
                if self._closing.is_set():
                    return
                if self._opened:
                    break  # it was up and went away: start again from the first node
            delay = self._backoff.next_delay()
            self.log.warning("reconnect attempt %d in %.1f s", self._backoff.attempt, delay)
            self._closing.wait(delay)

    def _session(self, params: pika.ConnectionParameters) -> None:
        """One connection, from opening to closed; the I/O loop runs here meanwhile."""
        self._opened = False
        self._node = label(params)
        where = f"{self._node} vhost {params.virtual_host}"
        try:
            connection = SelectConnection(params, on_open_callback=self._on_open,
                                          on_open_error_callback=lambda c, e: self._on_open_error(c, e, where),
                                          on_close_callback=self._on_closed, custom_ioloop=BatchingIOServices())
        except RECOVERABLE as exc:
            self.log.warning("cannot connect to %s: %s", where, exc)
            return
        self._connection = connection
        with self._lock:
            self._loop = connection.ioloop
            if self._inbox and not self._wake_pending:
                self._wake_pending = True
                self._loop.add_callback_threadsafe(self._take_inbox)
        try:
            connection.ioloop.start()
        except RECOVERABLE as exc:
            self.log.warning("broker connection to %s failed (%s: %s)", where, type(exc).__name__, exc)
        finally:
            with self._lock:
                self._loop = None
                self._wake_pending = False
            self._ready.clear()
            self._connection = self._channel = None
            self._inflight.clear()  # what they named is unsettled and goes out again on the next channel
            self._returned.clear()
            self._redeclaring = None
            connection.ioloop.close()

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: SelectConnection, error: BaseException, where: str) -> None:
        self.log.warning("cannot connect to %s: %s", where, error or type(error).__name__)
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        self._channel = channel
        self._declare(channel, lambda: channel.confirm_delivery(ack_nack_callback=self._on_confirm,
                                                                callback=self._on_confirm_mode))

    def _declare(self, channel: Any, then: Callable[[], None]) -> None:
        """Exchanges, queues and bindings (idempotent), one after the other, then `then()`."""
        settings = self.settings
        steps: list[tuple[Callable[..., Any], dict[str, Any]]] = []
        for exchange in (settings.exchange, *settings.extra_exchanges):
            steps.append((channel.exchange_declare, {"exchange": exchange, "exchange_type": "topic",
                                                     "durable": True}))
        arguments = topology.queue_arguments(settings.queue_type)
        for queue in dict.fromkeys([settings.output_queue, *(queue for queue, _ in self.extra_bindings)]):
            steps.append((channel.queue_declare, {"queue": queue, "durable": True, "arguments": arguments}))
        binds = [*topology.bindings(settings), *((settings.exchange, q, k) for q, k in self.extra_bindings)]
        for exchange, queue, key in binds:
            steps.append((channel.queue_bind, {"queue": queue, "exchange": exchange, "routing_key": key}))

        def step(_frame: Any = None) -> None:
            if not channel.is_open:
                return
            if steps:
                method, arguments = steps.pop(0)
                method(**arguments, callback=step)
            else:
                then()

        step()

    def _on_confirm_mode(self, _frame: Any) -> None:
        self._opened = True
        self.connections += 1
        self._backoff.reset()
        self._next_tag = 0
        self.log.info("publishing to exchange %s on vhost %s at node %s with confirms", self.settings.exchange,
                      self.settings.vhost, self._node)
        self._node_report.connected(self._node)
        self._ready.set()
        for batch in list(self._pending):  # not settled on the last connection: again, in order
            self._publish(batch, range(len(batch.messages)))
        self._report()
        self._take_inbox()

    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        self._ready.clear()
        self._channel = None
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            limit = _BROKER_SIZE_LIMIT.search(reason.reply_text or "")
            if reason.reply_code == 406 and "x-queue-type" in str(reason.reply_text):
                # A configuration problem no reconnect can cure: end the process with the explanation.
                raise topology.QueueTypeMismatch(f"{reason.reply_text}; set queue_type for {self.settings.name} "
                                                 f"to the queue's type, or convert the queue "
                                                 f"(docs/deployment.rst, 'Converting a queue')")
            if reason.reply_code == 406 and limit:
                self.max_message_bytes = min(self.max_message_bytes, int(limit.group(1)))
                self.log.error("the broker refused a message for its size (%s); messages over %d bytes are not "
                               "sent from now on", reason.reply_text, self.max_message_bytes)
            else:
                self.log.warning("the broker closed the channel: %s", reason)
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()

    def _on_closed(self, connection: SelectConnection, reason: BaseException) -> None:
        if self._opened:
            self._node_report.disconnected()
        self._ready.clear()
        if self._opened and not self._closing.is_set():
            self.log.warning("broker connection lost: %s; %d message(s) not confirmed yet", reason,
                             sum(batch.remaining for batch in self._pending))
        connection.ioloop.stop()

    def _shut_down(self) -> None:
        connection = self._connection
        if connection is not None and not (connection.is_closing or connection.is_closed):
            connection.close()
        elif connection is None or connection.is_closed:
            with self._lock:
                if self._loop is not None:
                    self._loop.stop()

    # -- the publisher's thread: publishing ----------------------------------------------------------
    def _take_inbox(self) -> None:
        with self._lock:
            self._wake_pending = False
            batches = list(self._inbox)
            self._inbox.clear()
        for batch in batches:
            self._pending.append(batch)
            if self._ready.is_set():
                self._publish(batch, range(len(batch.messages)))
        self._report()

    def _publish(self, batch: Batch, indexes: Sequence[int]) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            return  # published when the next channel is in confirm mode
        publish = channel.basic_publish
        exchange = self.settings.exchange
        inflight = self._inflight.add
        messages, settled = batch.messages, batch.settled
        limit, mandatory_events = self.max_message_bytes, self.mandatory_events
        tag = self._next_tag
        now = int(time.time())
        for index in indexes:
            if settled[index]:
                continue
            message = messages[index]
            if len(message.body) > limit:
                self._undelivered(batch, index, f"{len(message.body)} bytes, over the limit of {limit} bytes")
                continue
            # Old consumers read the UUID header of what they get (ImportRequest); events have message_id only.
            if message.old_style:
                properties = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                  message_id=message.message_id, timestamp=now, type="response",
                                                  headers={"UUID": message.message_id})
            else:
                properties = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                  message_id=message.message_id, timestamp=now, type="event")
            publish(exchange, message.routing_key, message.body, properties,
                    mandatory=message.old_style or mandatory_events)
            tag += 1
            inflight((tag, (batch, index)))
        self._next_tag = tag

    def _undelivered(self, batch: Batch, index: int, why: str) -> None:
        message = batch.messages[index]
        self.log.error("message %s (routing key %s) is not delivered: %s; skipped", message.message_id,
                       message.routing_key, why)
        batch.undelivered[index] = why
        batch.settle(index)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        if isinstance(method, Basic.Nack):
            self.log.warning("the broker could not take message(s) up to delivery tag %d (nack); reconnecting to "
                             "send everything unconfirmed again", tag)
            connection = self._connection
            if connection is not None and connection.is_open:
                connection.close(reply_text="nack from the broker")
            return
        for settled_tag, (batch, index) in self._inflight.confirm(tag, method.multiple):
            self._acked(settled_tag, batch, index)
        self._report()

    def _acked(self, tag: int, batch: Batch, index: int) -> None:
        if self._returned:
            why = self._returned.pop(tag, None)
            if why is not None:
                self._unroutable(batch, index, why)
                return
        batch.settle(index)

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        """The broker routed a mandatory message to no queue; its ack follows and must not count."""
        for tag, (batch, index) in self._inflight:
            message = batch.messages[index]
            if message.message_id == properties.message_id and tag not in self._returned:
                self._returned[tag] = f"{method.reply_code} {method.reply_text}"
                return

    def _unroutable(self, batch: Batch, index: int, why: str) -> None:
        """Declare the topology again (someone deleted a queue or binding) and send once more; else give up."""
        message = batch.messages[index]
        if index in batch.returned:
            self._undelivered(batch, index, f"reached no queue twice ({why}), also after declaring the queues again")
            return
        batch.returned.add(index)
        self.log.warning("message %s (routing key %s) reached no queue (%s); declaring the queues again and sending "
                         "it once more", message.message_id, message.routing_key, why)
        if self._redeclaring is not None:
            self._redeclaring.append((batch, index))
            return
        self._redeclaring = [(batch, index)]
        channel = self._channel
        if channel is None:
            return  # the next channel sends it anyway

        def resend() -> None:
            waiting, self._redeclaring = self._redeclaring or [], None
            for again, position in waiting:
                self._publish(again, [position])

        self._declare(channel, resend)

    def _report(self) -> None:
        pending = self._pending
        while pending and pending[0].remaining == 0:
            batch = pending.popleft()
            batch.confirmed = True
            self.on_confirmed(batch)
