"""The RPC worker: one connection owner, one handler thread, every message answered exactly once.

Threads (docs/handlers.rst):

- the *owner* (the main thread) runs pika's SelectConnection IOLoop and is the only thread that touches
  the connection and its channels: it consumes, publishes, acks, sends heartbeats, reconnects, and
  handles SIGTERM/SIGINT, whose handlers only set a flag and wake it through `signal.set_wakeup_fd`;
- the *handler thread* runs `react` one message at a time and hands its answer to the owner through
  `ioloop.add_callback_threadsafe`, then takes the next message; the owner publishes the answer and
  acks the request when the broker confirms it. A handler may work for ten minutes: the owner keeps the
  connection alive meanwhile. Only the rare cases (an answer that came back unroutable or was refused,
  a progress message, `publish()`) make the handler thread wait for a confirm on a Future;
- threads of the handler's own (e.g. the harvester's scheduler) call `publish()` the same way.

Structures the handler declares `INLINE` (short, self-contained work) are served on the owner itself,
without the two hand-overs between threads; one that runs longer than INLINE_LIMIT_SECONDS is served
on the handler thread from then on, so heartbeats never wait long.

Life of a worker (`WorkerState`): CONNECTING -> CONSUMING -> (RECONNECTING -> CONNECTING ...) ->
DRAINING -> STOPPED. A message is acked only after the broker confirmed its final answer; if the
connection drops first, the broker redelivers the message.
"""

from __future__ import annotations

import enum
import errno
import functools
import logging
import os
import queue
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import pika
import pika.exceptions
from pika.adapters.select_connection import IOLoop, SelectConnection

from daemons.rpc import answers, logs, metrics, nodes, topology
from daemons.rpc.backoff import Backoff
from daemons.rpc.handler import INLINE_LIMIT_SECONDS, Request, done_serving, serving
from daemons.rpc.loader import LoadedHandler
from daemons.rpc.poison import PoisonTracker, broker_says_poison, delivery_count
from daemons.rpc.session import RECOVERABLE, AnswerRefused, Confirms, Outcome, SessionLost, settle
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from daemons.rpc.wire import deserialize

__all__ = ["RECOVERABLE", "EXIT_LOCAL_ERROR", "EXIT_THREAD_FAILED", "LocalError", "SessionLost", "Worker",
           "WorkerState"]

# Exit codes (docs/operations.rst): 0 after a stop, these when the worker cannot go on.
EXIT_THREAD_FAILED = 70  # an unexpected exception on one of the worker's threads (a bug): see its traceback
EXIT_CONFIG_ERROR = 78  # the broker refuses what the config asks for (a queue of the other type)
EXIT_LOCAL_ERROR = 74  # a local problem: a file or directory the worker needs (disk full, permissions)
# Consuming this long without trouble makes the next reconnect start from the shortest delay again.
HEALTHY_SECONDS = 30.0
REFUSED_RETRY_CAP = 5.0  # the longest pause between two publishes of an answer the broker refused (nack)
DEFAULT_STOPWAITSECS = 30
# A draining worker gives back the message in hand this long before supervisord's stopwaitsecs ends.
GIVE_BACK_MARGIN = 3.0
# Errors of the disk under a handler: the message goes back to the queue and the worker exits.
LOCAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


class WorkerState(enum.Enum):
    CONNECTING = "connecting"
    CONSUMING = "consuming"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    STOPPED = "stopped"


class LocalError(Exception):
    """A file or directory the worker needs cannot be used; the text names the path. Not the broker's fault,
    so the worker exits (EXIT_LOCAL_ERROR) and `status` shows this text instead of a reconnect loop."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class MissingUUIDError(ValueError):
    """The request carried no UUID header, so no client can match the answer."""


class MessageTooLargeError(ValueError):
    """The request is larger than the daemon's `max_message_bytes`."""


class AnswerTooLargeError(ValueError):
    """The handler's answer is larger than `max_answer_bytes`; the broker would refuse to take it."""


class AnswerRefusedError(RuntimeError):
    """The broker refused the handler's answer (nack, or it closed the channel over it)."""


class PoisonMessageError(RuntimeError):
    """The request killed its worker too often; it is answered with this error instead of run again."""


class UnknownExchangeError(ValueError):
    """`publish(..., exchange=...)` names an exchange the daemon's vhost does not have."""


class InlineMisuseError(RuntimeError):
    """An INLINE structure's react called send_back or publish, which wait for the broker: on the
    connection's own thread nobody would be left to hear it."""


def _owner_callback(method: Callable[..., None]) -> Callable[..., None]:
    """pika turns an exception in a callback into a lost connection (and a reconnect, forever): end the
    process instead, a local error with its one line, anything else with its traceback."""

    @functools.wraps(method)
    def guarded(self: Worker, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except LocalError as exc:
            self.log.error("stopping: %s", exc)
            self._abort(EXIT_LOCAL_ERROR)
        except Exception:
            self.log.critical("the connection owner failed in %s; the worker exits", method.__name__, exc_info=True)
            self._failed = True
            self._abort(EXIT_THREAD_FAILED)

    return guarded


_UNDECODED = object()
# An inline candidate's body is decoded on the owner to learn its structure; a larger one goes to the thread.
INLINE_BODY_BYTES = 64 * 1024


@dataclass(slots=True, eq=False)
class Job:
    """One delivery, with the channel it came on (its ack is only valid there)."""

    channel: Any
    method: Any
    properties: pika.BasicProperties
    body: bytes
    message: Any = _UNDECODED  # decoded already (by the owner, to see whether it is INLINE)


@dataclass(slots=True, eq=False)
class Final:
    """A job's final answer on its way to the broker: what the owner needs to ack the job once confirmed."""

    job: Job
    answer: answers.Answer
    key: str | None  # the poison key, None for a request answered before it was looked at
    redelivered: bool
    main: Outcome | BaseException | None = None
    reply: Outcome | BaseException | None = None
    waiting: int = field(init=False)  # confirms still to come

    def __post_init__(self) -> None:
        self.waiting = 2 if self.answer.reply_to else 1


def local_error(exc: OSError, what: str) -> LocalError:
    path = str(exc.filename or "?")
    return LocalError(f"{what} {path}: {exc.strerror or exc} (a local problem, not the broker)", path)


class Worker:
    """Serves one daemon until SIGTERM/SIGINT or `stop()`; `run()` returns the process exit code."""

    def __init__(self, settings: DaemonSettings, amqp: AMQPSettings, handler: LoadedHandler,
                 log: logging.Logger | None = None) -> None:
        self.settings = settings
        self.amqp = amqp
        self.handler = handler
        self.log = log or logging.getLogger(f"edeposit.{settings.name}")
        self.state = WorkerState.CONNECTING
        try:
            self.poison = PoisonTracker(settings.state_dir / "inflight" / settings.name, settings.poison_limit)
        except OSError as exc:
            raise local_error(exc, "cannot keep poison slots in") from exc
        self.ioloop = IOLoop()
        self._report = nodes.NodeReport(settings.state_dir, settings.name)  # which node, for `status`
        self._node = ""
        self._frame_max = answers.FRAME_MAX
        self._backoff = Backoff(cap=amqp.reconnect_max_delay)
        self._connection: Any = None
        self._channel: Any = None
        self._confirms: Confirms | None = None
        self._consumer_tag: str | None = None
        self._healthy_timer: Any = None
        self._retry_timer: Any = None
        self._local: deque[Job] = deque()  # delivered, not started (prefetch > 1)
        self._in_hand: Job | None = None
        self._failed = False  # a thread died: the message in hand counts as a death of it
        self._abandoned = False  # the handler still runs a message given back at the stop deadline
        self._draining = False
        self._stop_requested = False  # set by the signal handler, read by the owner
        self._exit_code = 0
        # Deliveries for the handler thread, or the rest of one in hand (an answer to send again).
        self._jobs: queue.SimpleQueue[Job | Callable[[], None] | None] = queue.SimpleQueue()
        self._known_exchanges: set[str] = set()
        self._refused: dict[str, str] = {}  # poison key -> why the broker refused its answer
        self._inline = set(handler.inline)  # structures served on the owner; one that overruns leaves
        self._inline_misused = False  # the inline react in progress called send_back or publish
        self._owner: threading.Thread | None = None
        self._wake_read, self._wake_write = os.pipe()
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        self._handler_thread = threading.Thread(target=self._handler_loop, name=f"{settings.name}-handler",
                                                daemon=True)

    # -- life cycle (owner thread) -----------------------------------------------------------------
    def _change_state(self, new: WorkerState) -> None:
        if new is not self.state:
            self.log.info("state %s -> %s", self.state.value, new.value)
            self.state = new

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT only set a flag; the wake-up fd gets the owner out of its select()."""
        signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested = True

    def stop(self) -> None:
        """Ask the worker to finish the message in hand and exit (from any thread but a signal handler)."""
        self._stop_requested = True
        os.write(self._wake_write, b"\0")

    def run(self) -> int:
        """Consume until stopped; reconnect with backoff when the broker goes away."""
        self._owner = threading.current_thread()
        previous_hook = threading.excepthook
        threading.excepthook = self._thread_failed
        self.ioloop.add_handler(self._wake_read, self._on_wake, IOLoop.READ)
        self._handler_thread.start()
        self.ioloop.add_callback_threadsafe(self._connect)
        try:
            self.ioloop.start()
        finally:
            threading.excepthook = previous_hook
            self._jobs.put(None)
            if self._in_hand is None and not self._abandoned:
                self._handler_thread.join(timeout=5)
            self.ioloop.remove_handler(self._wake_read)
            self.ioloop.close()
            self.poison.close(keep_death=self._failed)
            self._change_state(WorkerState.STOPPED)
        return self._exit_code

    @_owner_callback
    def _on_wake(self, fd: int, events: int) -> None:
        try:
            os.read(fd, 512)
        except BlockingIOError:
            pass
        if self._stop_requested:
            self._begin_drain()

    def _thread_failed(self, args: threading.ExceptHookArgs) -> None:
        """A thread of this process ended with an exception: log it and end the process (never a dead thread)."""
        if args.exc_type is SystemExit:
            return
        # A local problem (disk full) is nobody's death; a bug with a message in hand counts as one of it.
        self._failed = not isinstance(args.exc_value, LocalError)
        thread = args.thread.name if args.thread is not None else "?"
        exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
        self.log.critical("thread %s failed; the worker exits", thread, exc_info=exc_info)
        code = EXIT_LOCAL_ERROR if isinstance(args.exc_value, LocalError) else EXIT_THREAD_FAILED
        self.ioloop.add_callback_threadsafe(functools.partial(self._abort, code))
        # If the owner cannot end the process in time, end it from here.
        timer = threading.Timer(10.0, os._exit, (code,))
        timer.daemon = True
        timer.start()

    def _abort(self, code: int) -> None:
        """Exit now: unacked messages go back to the queue when the connection closes."""
        self._exit_code = code
        self._draining = True
        self._abandoned = self._in_hand is not None
        self._in_hand = None
        self._local.clear()
        self._finish_drain()

    # -- connection (owner thread) -----------------------------------------------------------------
    @_owner_callback
    def _connect(self) -> None:
        self._retry_timer = None
        if self._draining:
            self.ioloop.stop()
            return
        self._change_state(WorkerState.CONNECTING)
        nodes = self.amqp.node_parameters(self.settings.vhost, f"edeposit-amqpd {self.settings.name}")
        # The frame_max we ask for bounds every answer's properties; the broker may only lower it.
        self._frame_max = min(params.frame_max for params in nodes)
        SelectConnection.create_connection(nodes, self._on_connection_done, custom_ioloop=self.ioloop)

    @_owner_callback
    def _on_connection_done(self, result: Any) -> None:
        if isinstance(result, BaseException):
            self._retry_later(result)
            return
        self._connection = result
        self._node = nodes.label(result.params)
        result.add_on_close_callback(self._on_connection_closed)
        if self._draining:
            result.close()
            return
        result.channel(on_open_callback=self._on_channel_open)

    def _retry_later(self, exc: BaseException) -> None:
        if self._draining:
            self.ioloop.stop()
            return
        metrics.reconnect()
        delay = self._backoff.next_delay()
        self._change_state(WorkerState.RECONNECTING)
        self.log.warning("broker connection failed (%s: %s); reconnect attempt %d in %.1f s",
                         type(exc).__name__, exc or "no detail", self._backoff.attempt, delay)
        self._retry_timer = self.ioloop.call_later(delay, self._connect)

    @_owner_callback
    def _on_connection_closed(self, connection: Any, reason: BaseException) -> None:
        self._connection = None
        self._report.disconnected()
        metrics.disconnected()
        self._forget_channel(SessionLost(f"connection to the broker was lost: {reason}"))
        if self._draining:
            self.ioloop.stop()
            return
        self._retry_later(reason)

    def _forget_channel(self, exc: BaseException) -> None:
        confirms = self._confirms
        self._channel = self._confirms = self._consumer_tag = None
        self._local.clear()  # unacked: the broker redelivers them
        self._known_exchanges.clear()
        if confirms is not None:  # after the above, so that a lost answer feeds no message of the old channel
            confirms.fail_all(exc)
        if self._healthy_timer is not None:
            self.ioloop.remove_timeout(self._healthy_timer)
            self._healthy_timer = None

    @_owner_callback
    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        self._confirms = Confirms(channel)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._confirms.on_return)
        channel.add_on_cancel_callback(self._on_consumer_cancelled)
        channel.confirm_delivery(ack_nack_callback=self._confirms.on_confirm,
                                 callback=lambda _frame: self._declare(channel, self._start_consuming))

    def _declare(self, channel: Any, then: Callable[[], None]) -> None:
        steps: list[Callable[..., None]] = []
        for exchange in (self.settings.exchange, *self.settings.extra_exchanges):
            steps.append(functools.partial(channel.exchange_declare, exchange, "topic", durable=True))
        for name in filter(None, (self.settings.input_queue, self.settings.output_queue)):
            steps.append(functools.partial(channel.queue_declare, name, durable=True,
                                           arguments=topology.queue_arguments(self.settings.queue_type)))
        for exchange, name, key in topology.bindings(self.settings):
            steps.append(functools.partial(channel.queue_bind, name, exchange, routing_key=key))
        steps.append(functools.partial(channel.basic_qos, prefetch_count=self.settings.prefetch))
        _chain(steps, then)

    @_owner_callback
    def _start_consuming(self) -> None:
        channel = self._channel
        if self._draining:
            self._finish_drain()
            return
        if channel is None or not channel.is_open:
            return
        self._consumer_tag = channel.basic_consume(self.settings.input_queue, self._on_message,
                                                   callback=lambda _frame: self._consuming(channel))

    @_owner_callback
    def _consuming(self, channel: Any) -> None:
        self._change_state(WorkerState.CONSUMING)
        try:
            self._report.connected(self._node)
        except OSError as exc:
            raise local_error(exc, "cannot report the broker node in") from exc
        metrics.connected(self._node)
        self.log.info("consuming %s on vhost %s at node %s", self.settings.input_queue, self.settings.vhost,
                      self._node)
        if self._healthy_timer is not None:
            self.ioloop.remove_timeout(self._healthy_timer)
        self._healthy_timer = self.ioloop.call_later(HEALTHY_SECONDS, self._healthy)

    @_owner_callback
    def _healthy(self) -> None:
        self._healthy_timer = None
        if self._backoff.attempt:
            self.log.info("consumed for %.0f s without trouble; the next reconnect starts from the shortest delay",
                          HEALTHY_SECONDS)
        self._backoff.reset()

    @_owner_callback
    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        if channel is not self._channel:
            return
        mismatch = _queue_type_mismatch(reason, self.settings)
        if mismatch is not None:  # the broker will not change a queue's type: a config error, the worker exits
            self.log.error("stopping: %s", mismatch)
            self._abort(EXIT_CONFIG_ERROR)
            return
        refused = isinstance(reason, pika.exceptions.ChannelClosedByBroker) and reason.reply_code == 406
        why = f"the broker closed the channel: {reason}"
        self._forget_channel(AnswerRefused(why) if refused else SessionLost(why))
        connection = self._connection
        if connection is None or not connection.is_open:
            return
        if self._draining:
            self._finish_drain()
            return
        delay = self._backoff.next_delay()
        self._change_state(WorkerState.CONNECTING)
        self.log.warning("%s; opening a new channel in %.1f s", why, delay)
        self._retry_timer = self.ioloop.call_later(
            delay, lambda: connection.channel(on_open_callback=self._on_channel_open) if connection.is_open else None)

    @_owner_callback
    def _on_consumer_cancelled(self, frame: Any) -> None:
        channel = self._channel
        self._consumer_tag = None
        if channel is None or self._draining:
            return
        self.log.warning("the broker cancelled the consumer of %r (queue deleted?); declaring it again",
                         self.settings.input_queue)
        self._change_state(WorkerState.CONNECTING)
        self._declare(channel, self._start_consuming)

    # -- deliveries (owner thread) -----------------------------------------------------------------
    @_owner_callback
    def _on_message(self, channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        if self._draining:
            channel.basic_nack(method.delivery_tag, requeue=True)  # arrived while we stop: for another worker
            return
        self._local.append(Job(channel, method, properties, body))
        self._feed()

    def _feed(self) -> None:
        if self._in_hand is None and self._local and not self._draining:
            job = self._in_hand = self._local.popleft()
            name = self._inline_name(job)
            if name is None:
                self._jobs.put(job)
            else:
                self._serve_inline(job, name)

    def _inline_name(self, job: Job) -> str | None:
        """The job's structure name when that structure is INLINE; None sends it to the handler thread."""
        if not self._inline or len(job.body) > INLINE_BODY_BYTES or job.method.redelivered:
            return None  # (a redelivered message may be what killed a worker: not on the owner)
        try:
            job.message = deserialize(job.body, self.handler.registry)
        except Exception:
            return None  # the handler thread answers with the error
        name = type(job.message).__name__
        return name if name in self._inline else None

    def _serve_inline(self, job: Job, name: str) -> None:
        started = time.monotonic()
        in_hand = metrics.begin(job.method, job.properties)
        try:
            self._serve(job)
        finally:
            metrics.end(in_hand)
        took = time.monotonic() - started
        if took > INLINE_LIMIT_SECONDS or self._inline_misused:
            self._inline.discard(name)
            why = ("its react called send_back or publish" if self._inline_misused
                   else f"it took {took:.2f} s, more than {INLINE_LIMIT_SECONDS} s")
            self.log.warning("INLINE structure %s is served on the handler thread from now on: %s", name, why)
        self._inline_misused = False

    @_owner_callback
    def _job_done(self, job: Job, ack: bool) -> None:
        if job is not self._in_hand:
            return  # given back at the stop deadline already
        self._in_hand = None
        if ack and job.channel is self._channel and job.channel.is_open:
            job.channel.basic_ack(job.method.delivery_tag)
        if self._draining:
            self._finish_drain()
        else:
            self._feed()

    @_owner_callback
    def _begin_drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        self._change_state(WorkerState.DRAINING)
        channel = self._channel
        if channel is not None and channel.is_open:
            if self._consumer_tag is not None:
                channel.basic_cancel(self._consumer_tag)
            for job in self._local:
                channel.basic_nack(job.method.delivery_tag, requeue=True)
        if self._local:
            self.log.info("gave back %d message(s) not started", len(self._local))
        self._local.clear()
        if self._in_hand is not None:
            stop_wait = self.settings.stopwaitsecs or DEFAULT_STOPWAITSECS
            limit = max(stop_wait - GIVE_BACK_MARGIN, stop_wait / 2)
            self.log.info("finishing the message in hand (given back if not done within %.0f s)", limit)
            self.ioloop.call_later(limit, self._give_back_in_hand)
        self._finish_drain()

    @_owner_callback
    def _give_back_in_hand(self) -> None:
        job, self._in_hand = self._in_hand, None
        if job is None:
            return
        self._abandoned = True
        self.log.warning("the handler did not finish before the stop deadline; giving its message back for "
                         "another worker (UUID=%r)", _short((job.properties.headers or {}).get("UUID")))
        if job.channel is self._channel and job.channel.is_open:
            job.channel.basic_nack(job.method.delivery_tag, requeue=True)
        self.poison.release()  # a stop by the master is not a death
        self._finish_drain()

    def _finish_drain(self) -> None:
        """Once nothing is in hand: close the connection, whose close callback stops the IOLoop."""
        if not self._draining or self._in_hand is not None:
            return
        if self._retry_timer is not None:
            self.ioloop.remove_timeout(self._retry_timer)
            self._retry_timer = None
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()
        elif connection is None or connection.is_closed:
            self.ioloop.stop()

    # -- final answers (owner thread) --------------------------------------------------------------
    def _usable(self, channel: Any) -> bool:
        """Whether a publish on `channel` (the one a message came on) can still be confirmed."""
        return channel is self._channel and self._confirms is not None and channel.is_open

    @_owner_callback
    def _publish_final(self, final: Final) -> None:
        if not self._usable(final.job.channel):
            self._final_lost(final, SessionLost("the channel the message came on is gone"))
            return
        assert self._confirms is not None
        answer = final.answer
        self._confirms.publish(self.settings.exchange, answer.routing_key, answer.body, answer.properties,
                               functools.partial(self._final_confirmed, final, True))
        if answer.reply_to:
            self._confirms.publish("", answer.reply_to, answer.body, answer.properties,
                                   functools.partial(self._final_confirmed, final, False))

    @_owner_callback
    def _final_confirmed(self, final: Final, main: bool, result: Outcome | BaseException) -> None:
        if main:
            final.main = result
        else:
            final.reply = result
        final.waiting -= 1
        if final.waiting:
            return
        for settled in (final.main, final.reply):
            if isinstance(settled, BaseException):
                self._final_lost(final, settled)
                return
        if isinstance(final.reply, Outcome):
            self._log_reply(final.answer, final.reply)
        if isinstance(final.main, Outcome) and final.main.delivered:
            self._settled(final.job, final.key, final.redelivered)
        else:  # unroutable or refused: the handler thread answers again, waiting on each step
            self._jobs.put(functools.partial(self._settle_slowly, final))

    def _final_lost(self, final: Final, exc: BaseException) -> None:
        if isinstance(exc, AnswerRefused) and final.key is not None:  # the broker closed the channel over it
            self._refused[final.key] = str(exc)
        self._lost(final.job, exc)

    @_owner_callback
    def _lost(self, job: Job, exc: BaseException) -> None:
        """The job's answer did not reach the broker: the broker redelivers the job, which is no death of it."""
        self.log.warning("connection lost with a message in hand (UUID=%r: %s); the broker will redeliver it",
                         _short((job.properties.headers or {}).get("UUID")), exc)
        if not self._failed:
            self.poison.release()
        self._job_done(job, False)

    @_owner_callback
    def _settled(self, job: Job, key: str | None, redelivered: bool) -> None:
        """The final answer is confirmed (or none can be sent): forget the job's deaths, then ack it."""
        if key is not None:
            try:
                self.poison.end(key, redelivered)
            except OSError as exc:
                raise local_error(exc, "cannot read or write poison slots in") from exc
        metrics.answered()
        self._job_done(job, True)

    def _log_reply(self, answer: answers.Answer, outcome: Outcome) -> None:
        if outcome.returned:
            self.log.warning("reply_to queue %r is gone (%s), the client left: that copy is skipped",
                             _short(answer.reply_to), outcome.returned)
        elif outcome.nacked:
            self.log.warning("the broker refused (nack) the copy for reply_to %r", _short(answer.reply_to))

    # -- calls from other threads ------------------------------------------------------------------
    def _on_owner(self, fn: Callable[[], None]) -> None:
        """Hand `fn` to the owner for a caller that then waits for it."""
        if threading.current_thread() is self._owner:
            if self._in_hand is not None:
                self._inline_misused = True
                raise InlineMisuseError("send_back and publish wait for the broker, which an INLINE structure's "
                                        "react cannot do on the connection's thread; take it out of INLINE")
            raise RuntimeError("this call blocks until the connection owner acts; call it from another thread")
        self.ioloop.add_callback_threadsafe(fn)

    def _to_owner(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the owner: at once when already there (an inline job), else at its next loop pass."""
        if threading.current_thread() is self._owner:
            fn()
        else:
            self.ioloop.add_callback_threadsafe(fn)

    def _publish_async(self, channel: Any, exchange: str, routing_key: str, answer: answers.Answer) -> Future[Outcome]:
        future: Future[Outcome] = Future()

        def publish() -> None:
            if not self._usable(channel):
                future.set_exception(SessionLost("the channel the message came on is gone"))
                return
            assert self._confirms is not None
            self._confirms.publish(exchange, routing_key, answer.body, answer.properties, settle(future))

        self._on_owner(publish)
        return future

    def _redeclare_output(self, channel: Any) -> None:
        """Declare the output queue and its binding again (someone deleted them) and wait until done."""
        done: Future[None] = Future()

        def declare() -> None:
            if channel is not self._channel or not channel.is_open:
                done.set_exception(SessionLost("the channel is gone"))
                return
            queue_name, exchange, key = self.settings.output_queue, self.settings.exchange, self.settings.output_key
            channel.queue_declare(queue_name, durable=True, callback=lambda _f: channel.queue_bind(
                queue_name, exchange, routing_key=key, callback=lambda _g: done.set_result(None)))

        self._on_owner(declare)
        done.result()

    def _send(self, answer: answers.Answer, channel: Any, exchange: str | None = None) -> None:
        """Publish to the daemon's exchange (or `exchange`) and to reply_to; return once the broker confirmed.

        Unroutable on the daemon's exchange: declare the output queue and binding again and publish once
        more. Unroutable reply_to (the client is gone): logged and skipped. A nack raises AnswerRefused.
        """
        target = self.settings.exchange if exchange is None else exchange
        main = self._publish_async(channel, target, answer.routing_key, answer)
        reply = self._publish_async(channel, "", answer.reply_to, answer) if answer.reply_to else None
        outcome = main.result()
        if reply is not None:
            self._log_reply(answer, reply.result())
        self._require_delivered(channel, answer, target, outcome)

    def _require_delivered(self, channel: Any, answer: answers.Answer, target: str, outcome: Outcome) -> None:
        """Act on how the broker took `answer` on exchange `target`. Unroutable on the daemon's exchange:
        publish it again after declaring the output queue; elsewhere: logged and dropped. A nack raises
        AnswerRefused."""
        if outcome.returned and target == self.settings.exchange:
            outcome = self._publish_again(channel, answer, outcome)
        elif outcome.returned:
            self.log.error("answer came back unroutable from exchange %r, key %r (%s): no queue takes it; "
                           "dropped", target, answer.routing_key, outcome.returned)
        if outcome.nacked:
            raise AnswerRefused(f"the broker refused (nack) the answer on exchange {target!r}")

    def _publish_again(self, channel: Any, answer: answers.Answer, returned: Outcome) -> Outcome:
        """The answer came back unroutable from the daemon's exchange: declare the output queue and its
        binding again, publish once more and wait for the confirm."""
        exchange = self.settings.exchange
        self.log.warning("answer came back unroutable from exchange %r, key %r (%s): declaring queue %r and "
                         "its binding again", exchange, answer.routing_key, returned.returned,
                         self.settings.output_queue)
        self._redeclare_output(channel)
        outcome = self._publish_async(channel, exchange, answer.routing_key, answer).result()
        if outcome.returned:
            self.log.error("answer came back unroutable from exchange %r, key %r (%s): no queue takes it; "
                           "dropped", exchange, answer.routing_key, outcome.returned)
        return outcome

    def publish(self, value: Any, routing_key: str | None = None, exchange: str | None = None,
                uuid: Any = "") -> None:
        """Publish a message nobody asked for (UUID "" unless given), e.g. a scheduled harvest, to the daemon's
        exchange or another `exchange` of its vhost; waits for the confirm.

        Safe from any thread but the owner; raises SessionLost while the broker is away, UnknownExchangeError
        for an exchange the vhost does not have.
        """
        channel = self._channel
        if channel is None:
            raise SessionLost("not connected to the broker")
        answer = self._checked_size(answers.success(value, uuid, routing_key or self.settings.output_key, None,
                                                    None, frame_max=self._frame_max))
        target = exchange if exchange not in (None, self.settings.exchange) else None
        if target:  # "" is the default exchange (routing key = queue name), which always exists
            self._check_exchange(target)
        try:
            self._send(answer, channel, target)
        except AnswerRefused as exc:
            raise SessionLost(str(exc)) from exc

    def _check_exchange(self, exchange: str) -> None:
        """Publishing to a missing exchange would close the worker's channel: ask on a channel of its own."""
        if exchange in self._known_exchanges:
            return
        checked: Future[None] = Future()

        def on_closed(probe: Any, reason: BaseException) -> None:
            if checked.done():
                return
            if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
                hint = "declare it, or start the daemon that owns it once" if reason.reply_code == 404 else "check it"
                checked.set_exception(UnknownExchangeError(
                    f"cannot publish to exchange {exchange!r} of vhost {self.settings.vhost!r}: "
                    f"{reason.reply_text}; {hint}"))
            else:
                checked.set_exception(SessionLost(f"connection to the broker was lost: {reason}"))

        def on_declared(probe: Any) -> None:
            self._known_exchanges.add(exchange)
            checked.set_result(None)
            probe.close()

        def on_open(probe: Any) -> None:
            probe.add_on_close_callback(on_closed)
            probe.exchange_declare(exchange, passive=True, callback=lambda _frame: on_declared(probe))

        def ask() -> None:
            connection = self._connection
            if connection is None or not connection.is_open:
                checked.set_exception(SessionLost("not connected to the broker"))
                return
            connection.channel(on_open_callback=on_open)

        self._on_owner(ask)
        checked.result()

    # -- one message (handler thread) --------------------------------------------------------------
    def _handler_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            if not isinstance(job, Job):
                job()  # the rest of the job in hand
                continue
            in_hand = metrics.begin(job.method, job.properties)
            try:
                self._serve(job)
            finally:
                metrics.end(in_hand)

    def _serve(self, job: Job) -> None:
        properties = job.properties
        headers = properties.headers or {}
        uuid = headers.get("UUID")
        routing_key = answers.routing_key_for(job.method.routing_key, self.settings.input_key, self.settings.output_key)
        reply = dict(routing_key=routing_key, reply_to=properties.reply_to, correlation_id=properties.correlation_id)

        if uuid is None:
            self.log.warning("message without a UUID header (headers: %s); answering with an error",
                             _short(sorted(headers)))
            metrics.outcome("no_uuid")
            self._answer(job, lambda: self._failure(MissingUUIDError("the request has no UUID header"), "", reply))
            return
        if len(job.body) > self.settings.max_message_bytes:
            exc = MessageTooLargeError(
                f"message of {len(job.body)} bytes exceeds max_message_bytes = {self.settings.max_message_bytes}"
            )
            metrics.outcome("too_large")
            self._answer(job, lambda: self._failure(exc, uuid, reply))
            return

        key = self.poison.key(job.body, properties)
        quorum = self.settings.queue_type == "quorum"  # the broker counts deliveries (daemons/rpc/poison.py)
        redelivered = bool(job.method.redelivered) and not quorum
        try:
            deaths = delivery_count(properties) if quorum else self.poison.begin(key, redelivered)
        except OSError as exc:
            raise local_error(exc, "cannot read or write poison slots in") from exc
        poisoned = (broker_says_poison(properties, self.settings.delivery_limit) if quorum
                    else self.poison.is_poison(deaths))
        if key in self._refused:
            refusal = AnswerRefusedError(f"the broker refused this request's answer: {self._refused.pop(key)}")
            self._answer(job, lambda: self._failure(refusal, uuid, reply), key, redelivered)
        elif poisoned:
            self.log.error("message UUID=%r killed the worker %d times; answering with an error",
                           _short(uuid), deaths)
            poison = PoisonMessageError(
                f"this message killed the {self.settings.name} worker {deaths} times; it was not run again"
            )
            metrics.outcome("poison")
            self._answer(job, lambda: self._failure(poison, uuid, reply), key, redelivered)
        else:
            self._answer(job, lambda: self._call_handler(job, uuid, reply), key, redelivered)

    def _answer(self, job: Job, make_answer: Callable[[], answers.Answer], key: str | None = None,
                redelivered: bool = False) -> None:
        """Build the final answer and hand it to the owner, which acks the job once the broker confirmed it."""
        try:
            answer = make_answer()
        except answers.AnswerCannotFit as exc:
            self._cannot_fit((job.properties.headers or {}).get("UUID"), exc)
            self._to_owner(functools.partial(self._settled, job, key, redelivered))
            return
        except SessionLost as exc:  # a progress message found the connection gone
            self._to_owner(functools.partial(self._lost, job, exc))
            return
        self._to_owner(functools.partial(self._publish_final, Final(job, answer, key, redelivered)))

    def _settle_slowly(self, final: Final) -> None:
        """The final answer came back unroutable or was refused (nack): publish it again after declaring the
        output queue, or again and again while the broker refuses it, then an error answer; waiting on each
        confirm. Then ack the job, or give it back when the broker took nothing for it."""
        job, answer = final.job, final.answer
        uuid = (job.properties.headers or {}).get("UUID")
        in_hand = logs.hold(uuid)
        try:
            try:
                assert isinstance(final.main, Outcome)
                self._require_delivered(job.channel, answer, self.settings.exchange, final.main)
            except AnswerRefused as exc:
                self._publish_while_refused(job.channel, answer, uuid, exc)
        except AnswerRefused as exc:
            if not self._draining:
                self._answer_refused(final, uuid, exc)
                return
            self._to_owner(functools.partial(self._give_back, job, "the worker is stopping"))
            return
        except SessionLost as exc:
            self._to_owner(functools.partial(self._lost, job, exc))
            return
        finally:
            logs.release(in_hand)
        self._on_owner(functools.partial(self._settled, job, final.key, final.redelivered))

    def _answer_refused(self, final: Final, uuid: Any, exc: AnswerRefused) -> None:
        """The broker kept refusing the answer: a small error answer instead (refused answers may be about
        their size, e.g. a queue's max-length-bytes); if it refuses that too, the request goes back."""
        self.log.warning("UUID=%r: %s for %g s; answering with an error instead", _short(uuid), exc,
                         self.settings.refused_retry_seconds)
        job, answer = final.job, final.answer
        try:
            failure = self._failure(AnswerRefusedError(str(exc)), uuid, _reply_of(answer, job))
            try:
                self._send(failure, job.channel)
            except AnswerRefused as again:
                self._publish_while_refused(job.channel, failure, uuid, again)
        except answers.AnswerCannotFit as cannot:
            self._cannot_fit(uuid, cannot)
        except AnswerRefused as again:
            why = "the worker is stopping" if self._draining else f"the broker refused the error answer too ({again})"
            self._to_owner(functools.partial(self._give_back, job, why))
            return
        except SessionLost as lost:
            self._to_owner(functools.partial(self._lost, job, lost))
            return
        self._on_owner(functools.partial(self._settled, job, final.key, final.redelivered))

    def _publish_while_refused(self, channel: Any, answer: answers.Answer, uuid: Any, refused: AnswerRefused) -> None:
        """Publish `answer` to the daemon's exchange again, with backoff, while the broker refuses it (nack):
        a quorum queue without a leader for a moment after a node died refuses, then takes. Raises the last
        AnswerRefused after `refused_retry_seconds`, or at once when the worker starts stopping."""
        self.log.warning("UUID=%r: %s; publishing it again for up to %g s", _short(uuid), refused,
                         self.settings.refused_retry_seconds)
        exchange = self.settings.exchange
        backoff = Backoff(initial=0.05, cap=REFUSED_RETRY_CAP)
        deadline = time.monotonic() + self.settings.refused_retry_seconds
        attempts = 1
        while True:
            pause_until = min(time.monotonic() + backoff.next_delay(), deadline)
            while time.monotonic() < pause_until and not self._draining:
                time.sleep(min(0.25, max(pause_until - time.monotonic(), 0.0)))
            if self._draining or time.monotonic() >= deadline:
                raise refused
            attempts += 1
            try:
                outcome = self._publish_async(channel, exchange, answer.routing_key, answer).result()
                self._require_delivered(channel, answer, exchange, outcome)
            except AnswerRefused as exc:
                refused = exc
                continue
            self.log.info("UUID=%r: the broker took the answer at attempt %d", _short(uuid), attempts)
            return

    @_owner_callback
    def _give_back(self, job: Job, why: str) -> None:
        """The broker took no answer for this request: it goes back to its queue unanswered and unacked,
        for this or another worker to try again; giving back is no death of it."""
        if job is not self._in_hand:
            return  # given back at the stop deadline already
        self.log.error("UUID=%r: no answer could be delivered (%s); the request goes back to its queue",
                       _short((job.properties.headers or {}).get("UUID")), why)
        if not self._failed:
            self.poison.release()
        if job.channel is self._channel and job.channel.is_open:
            job.channel.basic_nack(job.method.delivery_tag, requeue=True)
        self._job_done(job, False)

    def _cannot_fit(self, uuid: Any, exc: answers.AnswerCannotFit) -> None:
        self.log.error("UUID=%r (%d characters): no answer can carry this UUID (%s); acking the request without "
                       "an answer", _short(uuid), len(str(uuid)), exc)

    def _failure(self, exc: BaseException, uuid: Any, reply: dict[str, Any]) -> answers.Answer:
        return answers.failure(exc, uuid, body_limit=self.settings.max_answer_bytes, frame_max=self._frame_max,
                               **reply)

    def _call_handler(self, job: Job, uuid: Any, reply: dict[str, Any]) -> answers.Answer:
        def send_back(data: Any) -> None:
            progress = answers.success(data, uuid, progress=True, frame_max=self._frame_max, **reply)
            self._send(self._checked_size(progress), job.channel)
            metrics.progress()

        started = time.monotonic()
        try:
            message = deserialize(job.body, self.handler.registry) if job.message is _UNDECODED else job.message
            token = serving(Request(uuid, job.method, job.properties, job.body, reply["routing_key"]))
            try:
                value = self.handler.react(message, send_back)
            finally:
                done_serving(token)
            answer = self._checked_size(answers.success(value, uuid, frame_max=self._frame_max, **reply))
        except SessionLost:
            raise
        except OSError as exc:
            if exc.errno in LOCAL_ERRNOS:  # the disk under the handler: retry later, on a worker that can
                raise local_error(exc, "the handler cannot write") from exc
            answer = self._handler_failed(exc, uuid, reply)
        except Exception as exc:
            answer = self._handler_failed(exc, uuid, reply)
        took = time.monotonic() - started
        metrics.handler_seconds(took)
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("UUID=%r handled in %.3f s", _short(uuid), took)
        return answer

    def _handler_failed(self, exc: Exception, uuid: Any, reply: dict[str, Any]) -> answers.Answer:
        self.log.warning("UUID=%r: %s: %s", _short(uuid), type(exc).__name__, _short(str(exc)))
        metrics.outcome("error", exc)
        return self._failure(exc, uuid, reply)

    def _checked_size(self, answer: answers.Answer) -> answers.Answer:
        if len(answer.body) > self.settings.max_answer_bytes:
            raise AnswerTooLargeError(
                f"the answer of {len(answer.body)} bytes exceeds max_answer_bytes = {self.settings.max_answer_bytes}"
            )
        return answer


def _queue_type_mismatch(reason: BaseException, settings: DaemonSettings) -> Exception | None:
    """A declare refused because the queue exists with another x-queue-type (daemons/rpc/topology.py)."""
    if not isinstance(reason, pika.exceptions.ChannelClosedByBroker) or "x-queue-type" not in str(reason.reply_text):
        return None
    found = re.search(r"for queue '([^']*)'", str(reason.reply_text))
    translated = topology.translated(reason, found.group(1) if found else "?", settings)
    return translated if isinstance(translated, topology.QueueTypeMismatch) else None


def _chain(steps: list[Callable[..., None]], then: Callable[[], None]) -> None:
    """Run asynchronous pika calls one after another: each gets, as `callback`, the start of the next."""
    remaining = iter(steps)

    def next_step(_frame: Any = None) -> None:
        step = next(remaining, None)
        if step is None:
            then()
        else:
            step(callback=next_step)

    next_step()


def _reply_of(answer: answers.Answer, job: Job) -> dict[str, Any]:
    return dict(routing_key=answer.routing_key, reply_to=answer.reply_to, correlation_id=job.properties.correlation_id)


def _short(value: Any, limit: int = 200) -> str:
    """A value for a log line, cut so a hostile header cannot flood the log."""
    text = value if isinstance(value, str) else repr(value)
    return answers.truncate(text, limit)

