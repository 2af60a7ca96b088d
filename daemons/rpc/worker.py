"""The RPC worker: one consume loop that answers every message exactly once.

Life of a worker (`WorkerState`): CONNECTING -> CONSUMING -> (RECONNECTING -> CONNECTING ...) ->
DRAINING -> STOPPED. The main thread waits for messages and runs the handler; while the handler
works, a `ConnectionKeeper` thread drives the connection so heartbeats continue (daemons/rpc/session.py).

Note: a message is acked only after its final answer was confirmed by the broker. If the
connection drops first, the answer is dropped too and the broker redelivers the message.
"""

from __future__ import annotations

import enum
import functools
import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions

from daemons.rpc import answers, metrics, nodes, topology
from daemons.rpc.backoff import Backoff
from daemons.rpc.coalescing import CoalescingSelectConnection
from daemons.rpc.handler import Request, done_serving, serving
from daemons.rpc.loader import LoadedHandler
from daemons.rpc.poison import PoisonTracker, broker_says_poison, delivery_count
from daemons.rpc.session import RECOVERABLE, ConnectionKeeper, Session, SessionLost
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from daemons.rpc.wire import deserialize

__all__ = ["RECOVERABLE", "SessionLost", "Worker", "WorkerState"]

_POLL_SECONDS = 0.5


class WorkerState(enum.Enum):
    CONNECTING = "connecting"
    CONSUMING = "consuming"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    STOPPED = "stopped"


class ConsumerCancelled(ConnectionError):
    """The broker cancelled our consumer (e.g. the queue was deleted); reconnecting declares it again."""


class MissingUUIDError(ValueError):
    """The request carried no UUID header, so no client can match the answer."""


class MessageTooLargeError(ValueError):
    """The request is larger than the daemon's `max_message_bytes`."""


class AnswerTooLargeError(ValueError):
    """The handler's answer is larger than `max_answer_bytes`; the broker would refuse to take it."""


class PoisonMessageError(RuntimeError):
    """The request killed its worker too often; it is answered with this error instead of run again."""


class UnknownExchangeError(ValueError):
    """`publish(..., exchange=...)` names an exchange the daemon's vhost does not have."""


@dataclass(frozen=True)
class Delivery:
    method: Any
    properties: pika.BasicProperties
    body: bytes


class Worker:
    """Serves one daemon until SIGTERM/SIGINT or `stop()`."""

    def __init__(self, settings: DaemonSettings, amqp: AMQPSettings, handler: LoadedHandler,
                 log: logging.Logger | None = None) -> None:
        self.settings = settings
        self.amqp = amqp
        self.handler = handler
        self.log = log or logging.getLogger(f"edeposit.{settings.name}")
        self.state = WorkerState.CONNECTING
        self.poison = PoisonTracker(settings.state_dir / "inflight" / settings.name, settings.poison_limit)
        self._inbox: deque[Delivery] = deque()
        self._stop = threading.Event()
        self._backoff = Backoff(cap=amqp.reconnect_max_delay)
        self._session: Session | None = None
        self._keeper: ConnectionKeeper | None = None
        self._known_exchanges: set[str] = set()

    # -- life cycle ----------------------------------------------------------------------------
    def _change_state(self, new: WorkerState) -> None:
        if new is not self.state:
            self.log.info("state %s -> %s", self.state.value, new.value)
            self.state = new

    def stop(self, *_: Any) -> None:
        """Ask the worker to finish the message in hand and exit (safe from a signal handler)."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> int:
        """Consume until stopped; reconnect with backoff when the broker goes away. Returns 0."""
        try:
            while not self._stop.is_set():
                self._change_state(WorkerState.CONNECTING)
                try:
                    self._serve_session()
                except RECOVERABLE as exc:
                    if self._stop.is_set():
                        break
                    metrics.reconnect()
                    delay = self._backoff.next_delay()
                    self._change_state(WorkerState.RECONNECTING)
                    self.log.warning(
                        "broker connection failed (%s: %s); reconnect attempt %d in %.1f s",
                        type(exc).__name__, exc or "no detail", self._backoff.attempt, delay,
                    )
                    self._stop.wait(delay)
        finally:
            self.poison.close()
            self._change_state(WorkerState.STOPPED)
        return 0

    def _serve_session(self) -> None:
        params = self.amqp.node_parameters(self.settings.vhost, name=f"edeposit-amqpd {self.settings.name}")
        # One write per answer instead of one per frame (daemons/rpc/coalescing.py).
        connection, node = nodes.open_first(params, _impl_class=CoalescingSelectConnection)
        report = nodes.NodeReport(self.settings.state_dir, self.settings.name)
        keeper: ConnectionKeeper | None = None
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            topology.declare(channel, self.settings)
            channel.basic_qos(prefetch_count=self.settings.prefetch)
            session = Session(connection, channel)
            keeper = ConnectionKeeper(session)
            self._session, self._keeper = session, keeper
            consumer_tag = channel.basic_consume(self.settings.input_queue, on_message_callback=self._on_message)
            self._backoff.reset()
            self._change_state(WorkerState.CONSUMING)
            report.connected(nodes.label(node))
            metrics.connected(nodes.label(node))
            self.log.info("consuming %s on vhost %s at node %s", self.settings.input_queue, self.settings.vhost,
                          nodes.label(node))
            self._consume(session, keeper, consumer_tag)
            connection.close()
        finally:
            report.disconnected()
            metrics.disconnected()
            self._session = self._keeper = None
            self._known_exchanges.clear()
            self._inbox.clear()  # unacked: the broker redelivers them
            if keeper is not None:
                keeper.close()
            if connection.is_open:
                try:
                    connection.close()
                except RECOVERABLE:
                    pass

    def _consume(self, session: Session, keeper: ConnectionKeeper, consumer_tag: str) -> None:
        while True:
            with session.lock:
                session.check()
                session.connection.process_data_events(time_limit=_POLL_SECONDS)
            if self._stop.is_set():
                self._change_state(WorkerState.DRAINING)
                session.run(lambda: session.channel.basic_cancel(consumer_tag))
                self._give_back_all(session)
                return
            if consumer_tag not in session.channel.consumer_tags:
                raise ConsumerCancelled(f"the broker cancelled the consumer of {self.settings.input_queue!r}")

    def _on_message(self, channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        """Called by pika inside `process_data_events`, with the session lock held by this thread.

        The message is handled right here, as a bare pika consumer would, but with the lock released so
        the keeper can drive the connection while the handler works.
        """
        job = Delivery(method, properties, body)
        session, keeper = self._session, self._keeper
        if self._stop.is_set() or session is None or keeper is None:
            self._inbox.append(job)  # not started: given back when draining
            return
        session.lock.release()
        try:
            self._handle(session, keeper, job)
        finally:
            session.lock.acquire()

    def _give_back_all(self, session: Session) -> None:
        """Return messages the broker handed us but we did not start, for another worker."""
        while self._inbox:
            tag: int = self._inbox.popleft().method.delivery_tag
            session.run(functools.partial(session.channel.basic_nack, tag, requeue=True))

    # -- one message ---------------------------------------------------------------------------
    def _handle(self, session: Session, keeper: ConnectionKeeper, job: Delivery) -> None:
        in_hand = metrics.begin(job.method, job.properties)
        try:
            keeper.busy()
            self._process(session, job)
        except SessionLost:
            self.log.warning("connection lost with a message in hand; the broker will redeliver it")
            raise
        finally:
            keeper.idle()
            metrics.end(in_hand)

    def _process(self, session: Session, job: Delivery) -> None:
        properties = job.properties
        headers = properties.headers or {}
        uuid = headers.get("UUID")
        routing_key = answers.routing_key_for(job.method.routing_key, self.settings.input_key, self.settings.output_key)
        reply = dict(routing_key=routing_key, reply_to=properties.reply_to, correlation_id=properties.correlation_id)

        if uuid is None:
            self.log.warning("message without a UUID header (headers: %s); answering with an error", sorted(headers))
            metrics.outcome("no_uuid")
            self._finish(session, job, answers.failure(MissingUUIDError("the request has no UUID header"), "", **reply))
            return
        if len(job.body) > self.settings.max_message_bytes:
            exc = MessageTooLargeError(
                f"message of {len(job.body)} bytes exceeds max_message_bytes = {self.settings.max_message_bytes}"
            )
            metrics.outcome("too_large")
            self._finish(session, job, answers.failure(exc, uuid, **reply))
            return

        key = self.poison.key(job.body, properties)
        quorum = self.settings.queue_type == "quorum"  # the broker counts deliveries (daemons/rpc/poison.py)
        redelivered = bool(job.method.redelivered) and not quorum
        deaths = delivery_count(properties) if quorum else self.poison.begin(key, redelivered)
        poisoned = (broker_says_poison(properties, self.settings.delivery_limit) if quorum
                    else self.poison.is_poison(deaths))
        try:
            if poisoned:
                self.log.error("message UUID=%r killed the worker %d times; answering with an error", uuid, deaths)
                poison = PoisonMessageError(
                    f"this message killed the {self.settings.name} worker {deaths} times; it was not run again"
                )
                answer = answers.failure(poison, uuid, **reply)
                metrics.outcome("poison")
            else:
                answer = self._call_handler(session, job, uuid, reply)
            self._finish(session, job, answer)
        finally:
            self.poison.end(key, redelivered)

    def _call_handler(self, session: Session, job: Delivery, uuid: Any, reply: dict[str, Any]) -> answers.Answer:
        def send_back(data: Any) -> None:
            answer = self._checked_size(answers.success(data, uuid, progress=True, **reply))
            session.run(lambda: self._publish_now(session, answer))
            metrics.progress()

        started = time.monotonic()
        try:
            message = deserialize(job.body, self.handler.registry)
            token = serving(Request(uuid, job.method, job.properties, job.body, reply["routing_key"]))
            try:
                value = self.handler.react(message, send_back)
            finally:
                done_serving(token)
            answer = self._checked_size(answers.success(value, uuid, **reply))
        except SessionLost:
            raise
        except Exception as exc:
            self.log.warning("UUID=%r: %s: %s", uuid, type(exc).__name__, exc)
            answer = answers.failure(exc, uuid, **reply)
            metrics.outcome("error", exc)
        metrics.handler_seconds(time.monotonic() - started)
        self.log.debug("UUID=%r handled in %.3f s", uuid, time.monotonic() - started)
        return answer

    def _checked_size(self, answer: answers.Answer) -> answers.Answer:
        if len(answer.body) > self.settings.max_answer_bytes:
            raise AnswerTooLargeError(
                f"the answer of {len(answer.body)} bytes exceeds max_answer_bytes = {self.settings.max_answer_bytes}"
            )
        return answer

    def _publish_now(self, session: Session, answer: answers.Answer, exchange: str | None = None) -> None:
        """Publish (blocking until the broker confirms); the caller holds the session lock."""
        channel = session.channel
        target = self.settings.exchange if exchange is None else exchange
        channel.basic_publish(target, answer.routing_key, answer.body, answer.properties)
        if answer.reply_to:
            channel.basic_publish("", answer.reply_to, answer.body, answer.properties)

    def _finish(self, session: Session, job: Delivery, answer: answers.Answer) -> None:
        """Publish the final answer, wait for the broker's confirm, then ack."""

        def publish_and_ack() -> None:
            self._publish_now(session, answer)
            session.channel.basic_ack(job.method.delivery_tag)

        session.run(publish_and_ack)
        metrics.answered()

    def publish(self, value: Any, routing_key: str | None = None, exchange: str | None = None,
                uuid: Any = "") -> None:
        """Publish a message nobody asked for (UUID "" unless given), e.g. a scheduled harvest, to the daemon's
        exchange or another `exchange` of its vhost; waits for the confirm.

        Safe from any thread; raises SessionLost while the broker is away, UnknownExchangeError for an
        exchange the vhost does not have.
        """
        session = self._session
        if session is None:
            raise SessionLost("not connected to the broker")
        answer = answers.success(value, uuid, routing_key or self.settings.output_key, None, None)
        target = exchange if exchange not in (None, self.settings.exchange) else None

        def publish_now() -> None:
            if target:  # "" is the default exchange (routing key = queue name), which always exists
                self._check_exchange(session, target)
            self._publish_now(session, answer, target)

        session.run(publish_now)

    def _check_exchange(self, session: Session, exchange: str) -> None:
        """Publishing to a missing exchange would close the worker's channel: ask on a channel of its own."""
        if exchange in self._known_exchanges:
            return
        probe = session.connection.channel()
        try:
            probe.exchange_declare(exchange, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            hint = "declare it, or start the daemon that owns it once" if exc.reply_code == 404 else "check it"
            raise UnknownExchangeError(
                f"cannot publish to exchange {exchange!r} of vhost {self.settings.vhost!r}: {exc.reply_text}; {hint}"
            ) from None
        probe.close()
        self._known_exchanges.add(exchange)
