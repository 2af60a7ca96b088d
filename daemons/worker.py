"""The RPC worker: one consume loop on the connection's thread, handlers on a thread of their own.

Life of a worker (`WorkerState`): CONNECTING -> CONSUMING -> (RECONNECTING -> CONNECTING ...) ->
DRAINING -> STOPPED. Only the I/O thread touches the connection; the handler thread asks it to
publish and ack through `add_callback_threadsafe` and waits for the broker's confirm.

Note: a message is acked only after its final answer was confirmed by the broker. If the
connection drops first, the answer is dropped too and the broker redelivers the message.
"""

from __future__ import annotations

import enum
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions

from daemons import answers, topology
from daemons.backoff import Backoff
from daemons.loader import LoadedHandler
from daemons.poison import PoisonTracker
from daemons.settings import AMQPSettings, DaemonSettings
from daemons.wire import deserialize

RECOVERABLE = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)
_POLL_SECONDS = 0.5


class WorkerState(enum.Enum):
    CONNECTING = "connecting"
    CONSUMING = "consuming"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    STOPPED = "stopped"


class SessionLost(Exception):
    """The connection a message came on is gone; the broker will redeliver the message."""


class ConsumerCancelled(ConnectionError):
    """The broker cancelled our consumer (e.g. the queue was deleted); reconnecting declares it again."""


class MissingUUIDError(ValueError):
    """The request carried no UUID header, so no client can match the answer."""


class MessageTooLargeError(ValueError):
    """The request is larger than the daemon's `max_message_bytes`."""


class PoisonMessageError(RuntimeError):
    """The request killed its worker too often; it is answered with this error instead of run again."""


@dataclass
class Session:
    """One connection and channel; messages remember the session they arrived on."""

    connection: pika.BlockingConnection
    channel: Any
    alive: bool = True
    pending: set[Future[Any]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the I/O thread and wait for it; SessionLost if the connection went away."""
        future: Future[Any] = Future()

        def run() -> None:
            with self.lock:
                self.pending.discard(future)
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # handed to the waiting thread
                    future.set_exception(exc)

        with self.lock:
            if not self.alive:
                raise SessionLost("connection to the broker was lost")
            self.pending.add(future)
            try:
                self.connection.add_callback_threadsafe(run)
            except pika.exceptions.ConnectionWrongStateError as exc:
                self.pending.discard(future)
                raise SessionLost(str(exc)) from exc
        try:
            return future.result()
        except RECOVERABLE as exc:
            raise SessionLost(str(exc)) from exc

    def end(self) -> None:
        with self.lock:
            self.alive = False
            pending, self.pending = self.pending, set()
        for future in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(SessionLost("connection to the broker was lost"))


@dataclass(frozen=True)
class Delivery:
    session: Session
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
        self._jobs: queue.Queue[Delivery | None] = queue.Queue()
        self._outstanding = 0
        self._outstanding_lock = threading.Lock()
        self._stop = threading.Event()
        self._backoff = Backoff(cap=amqp.reconnect_max_delay)
        self._session: Session | None = None

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
        thread = threading.Thread(target=self._handler_loop, name=f"{self.settings.name}-handler", daemon=True)
        sys.setswitchinterval(0.0005)  # hand the GIL over quickly between the I/O and handler threads
        thread.start()
        try:
            while not self._stop.is_set():
                self._change_state(WorkerState.CONNECTING)
                try:
                    self._serve_session()
                except RECOVERABLE as exc:
                    if self._stop.is_set() and self._idle():
                        break
                    delay = self._backoff.next_delay()
                    self._change_state(WorkerState.RECONNECTING)
                    self.log.warning(
                        "broker connection failed (%s: %s); reconnect attempt %d in %.1f s",
                        type(exc).__name__, exc or "no detail", self._backoff.attempt, delay,
                    )
                    self._stop.wait(delay)
        finally:
            self._jobs.put(None)
            thread.join(timeout=5)
            if not thread.is_alive():
                self.poison.close()
            self._change_state(WorkerState.STOPPED)
        return 0

    def _idle(self) -> bool:
        with self._outstanding_lock:
            return self._outstanding == 0

    def _serve_session(self) -> None:
        params = self.amqp.parameters(self.settings.vhost, name=f"edeposit-amqpd {self.settings.name}")
        connection = pika.BlockingConnection(params)
        session: Session | None = None
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            topology.declare(channel, self.settings)
            channel.basic_qos(prefetch_count=self.settings.prefetch)
            session = Session(connection, channel)
            self._session = session
            consumer_tag = channel.basic_consume(
                self.settings.input_queue,
                on_message_callback=lambda ch, method, props, body: self._on_message(session, method, props, body),
            )
            self._backoff.reset()
            self._change_state(WorkerState.CONSUMING)
            self.log.info("consuming %s on vhost %s", self.settings.input_queue, self.settings.vhost)
            self._consume(session, consumer_tag)
            connection.close()
        finally:
            if session is not None:
                session.end()
            if connection.is_open:
                try:
                    connection.close()
                except RECOVERABLE:
                    pass

    def _consume(self, session: Session, consumer_tag: str) -> None:
        draining = False
        while True:
            session.connection.process_data_events(time_limit=_POLL_SECONDS)
            if self._stop.is_set() and not draining:
                draining = True
                self._change_state(WorkerState.DRAINING)
                session.channel.basic_cancel(consumer_tag)
            if draining and self._idle():
                return
            if not draining and consumer_tag not in session.channel.consumer_tags:
                raise ConsumerCancelled(f"the broker cancelled the consumer of {self.settings.input_queue!r}")

    def _on_message(self, session: Session, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        with self._outstanding_lock:
            self._outstanding += 1
        self._jobs.put(Delivery(session, method, properties, body))

    # -- the handler thread --------------------------------------------------------------------
    def _handler_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if self._stop.is_set() or not job.session.alive:
                    self._give_back(job)
                else:
                    self._process(job)
            except SessionLost:
                self.log.warning("connection lost with a message in hand; the broker will redeliver it")
            except Exception:
                self.log.exception("unexpected failure while answering a message")
                self._give_back(job)
            finally:
                with self._outstanding_lock:
                    self._outstanding -= 1

    def _give_back(self, job: Delivery) -> None:
        """Return an unstarted message to the queue for another worker."""
        if not job.session.alive:
            return
        try:
            job.session.call(lambda: job.session.channel.basic_nack(job.method.delivery_tag, requeue=True))
        except SessionLost:
            pass

    def _process(self, job: Delivery) -> None:
        properties = job.properties
        headers = properties.headers or {}
        uuid = headers.get("UUID")
        routing_key = answers.routing_key_for(job.method.routing_key, self.settings.input_key, self.settings.output_key)
        reply = dict(routing_key=routing_key, reply_to=properties.reply_to, correlation_id=properties.correlation_id)

        if uuid is None:
            self.log.warning("message without a UUID header (headers: %s); answering with an error", sorted(headers))
            self._finish(job, answers.failure(MissingUUIDError("the request has no UUID header"), "", **reply))
            return
        if len(job.body) > self.settings.max_message_bytes:
            exc = MessageTooLargeError(
                f"message of {len(job.body)} bytes exceeds max_message_bytes = {self.settings.max_message_bytes}"
            )
            self._finish(job, answers.failure(exc, uuid, **reply))
            return

        key = self.poison.key(job.body, properties)
        redelivered = bool(job.method.redelivered)
        deaths = self.poison.begin(key, redelivered)
        try:
            if self.poison.is_poison(deaths):
                self.log.error("message UUID=%r killed the worker %d times; answering with an error", uuid, deaths)
                exc = PoisonMessageError(
                    f"this message killed the {self.settings.name} worker {deaths} times; it was not run again"
                )
                answer = answers.failure(exc, uuid, **reply)
            else:
                answer = self._call_handler(job, uuid, reply)
            self._finish(job, answer)
        finally:
            self.poison.end(key, redelivered)

    def _call_handler(self, job: Delivery, uuid: Any, reply: dict[str, Any]) -> answers.Answer:
        def send_back(data: Any) -> None:
            self._publish(job.session, answers.success(data, uuid, progress=True, **reply))

        started = time.monotonic()
        try:
            message = deserialize(job.body, self.handler.registry)
            value = self.handler.react(message, send_back)
            answer = answers.success(value, uuid, **reply)
        except SessionLost:
            raise
        except Exception as exc:
            self.log.warning("UUID=%r: %s: %s", uuid, type(exc).__name__, exc)
            answer = answers.failure(exc, uuid, **reply)
        self.log.debug("UUID=%r handled in %.3f s", uuid, time.monotonic() - started)
        return answer

    def publish(self, value: Any, routing_key: str | None = None) -> None:
        """Publish a message nobody asked for (UUID ""), e.g. a scheduled harvest; waits for the confirm."""
        session = self._session
        if session is None or not session.alive:
            raise SessionLost("not connected to the broker")
        answer = answers.success(value, "", routing_key or self.settings.output_key, None, None)
        self._publish(session, answer)

    def _publish(self, session: Session, answer: answers.Answer) -> None:
        session.call(lambda: self._publish_on_io_thread(session, answer))

    def _publish_on_io_thread(self, session: Session, answer: answers.Answer) -> None:
        channel = session.channel
        channel.basic_publish(self.settings.exchange, answer.routing_key, answer.body, answer.properties)
        if answer.reply_to:
            channel.basic_publish("", answer.reply_to, answer.body, answer.properties)

    def _finish(self, job: Delivery, answer: answers.Answer) -> None:
        """Publish the final answer, wait for the broker's confirm, then ack."""

        def publish_and_ack() -> None:
            self._publish_on_io_thread(job.session, answer)
            job.session.channel.basic_ack(job.method.delivery_tag)

        job.session.call(publish_and_ack)
