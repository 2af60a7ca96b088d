"""A small RPC client for the daemons: used by edeposit-amqp-tool, the tests and any front end."""

from __future__ import annotations

import time
import uuid as uuid_module
from collections.abc import Callable
from typing import Any

import pika

from daemons.rpc import nodes
from daemons.rpc.backoff import Backoff
from daemons.rpc.session import RECOVERABLE
from daemons.rpc.settings import AMQPSettings
from daemons.rpc.wire import StructureRegistry, deserialize, serialize


class RemoteError(Exception):
    """The daemon answered with an error response; its headers are kept as attributes."""

    def __init__(self, exception_name: str, exception: str, traceback: str, uuid: Any) -> None:
        super().__init__(f"{exception_name}: {exception}")
        self.exception_name = exception_name
        self.exception = exception
        self.traceback = traceback
        self.uuid = uuid


class RPCTimeout(TimeoutError):
    """No final answer arrived in time."""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def decode_answer(properties: pika.BasicProperties, body: bytes, registry: StructureRegistry) -> Any:
    """The value of a response, or RemoteError for an error response."""
    headers = properties.headers or {}
    if "exception_name" in headers or properties.content_type == "application/text":
        raise RemoteError(
            _text(headers.get("exception_name", "Exception")),
            _text(headers.get("exception", body.decode("utf-8", "replace"))),
            _text(headers.get("traceback", "")),
            headers.get("UUID"),
        )
    return deserialize(body, registry, strict=False)


class RPCClient:
    """Calls one daemon: publishes to its exchange and waits on a private reply queue.

    Progress messages (AMQP `type` = "progress") go to the `progress` callback; the call returns the
    final answer's value or raises RemoteError.

    It connects to the first node of `[amqp] host` that answers. When that node goes away during a
    call, the client reconnects (to the next node that answers, with the workers' backoff) and sends
    the request again with the same UUID, so a call may cause two answers but the caller sees one.
    """

    def __init__(self, amqp: AMQPSettings, vhost: str, exchange: str, routing_key: str = "request",
                 registry: StructureRegistry | None = None) -> None:
        self.exchange = exchange
        self.routing_key = routing_key
        self.registry = registry or StructureRegistry()
        self._parameters = amqp.node_parameters(vhost, name="edeposit-amqpd client")
        self._backoff = Backoff(cap=amqp.reconnect_max_delay)
        self._replies: dict[str, list[tuple[pika.BasicProperties, bytes]]] = {}
        self._connect()

    def _connect(self) -> None:
        self._connection, node = nodes.open_first(self._parameters)
        self.node = nodes.label(node)
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        declared = self._channel.queue_declare(queue="", exclusive=True, auto_delete=True)
        self.reply_queue = declared.method.queue
        self._channel.basic_consume(self.reply_queue, self._on_reply, auto_ack=True)

    def _reconnect(self, deadline: float, cause: BaseException) -> None:
        """Connect again before `deadline`, or raise RPCTimeout naming `cause`."""
        if self._connection.is_open:
            try:
                self._connection.close()
            except RECOVERABLE:
                pass
        while True:
            delay = self._backoff.next_delay()
            if time.monotonic() + delay > deadline:
                raise RPCTimeout(f"the broker connection was lost ({type(cause).__name__}: {cause}) and "
                                 f"no node of {self._where()} answered in time") from cause
            time.sleep(delay)
            try:
                self._connect()
                self._backoff.reset()
                return
            except RECOVERABLE as exc:
                cause = exc

    def _where(self) -> str:
        return ", ".join(nodes.label(node) for node in self._parameters)

    def _on_reply(self, channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        if properties.correlation_id in self._replies:
            self._replies[properties.correlation_id].append((properties, body))

    def call(self, message: Any, timeout: float = 30.0, progress: Callable[[Any], None] | None = None,
             uuid: Any = None, headers: dict[str, Any] | None = None) -> Any:
        correlation_id = uuid_module.uuid4().hex
        self._replies[correlation_id] = []
        all_headers = {"UUID": uuid if uuid is not None else correlation_id, **(headers or {})}
        body = message if isinstance(message, bytes) else serialize(message)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    self._publish(body, all_headers, correlation_id)
                    return self._wait(correlation_id, deadline, timeout, progress)
                except RECOVERABLE as exc:
                    self._reconnect(deadline, exc)
        finally:
            self._replies.pop(correlation_id, None)

    def _publish(self, body: bytes, headers: dict[str, Any], correlation_id: str) -> None:
        self._channel.basic_publish(
            self.exchange,
            self.routing_key,
            body,
            pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,
                headers=headers,
                reply_to=self.reply_queue,
                correlation_id=correlation_id,
            ),
        )

    def _wait(self, correlation_id: str, deadline: float, timeout: float,
              progress: Callable[[Any], None] | None) -> Any:
        while True:
            inbox = self._replies[correlation_id]
            while inbox:
                properties, reply = inbox.pop(0)
                if properties.type == "progress":
                    if progress is not None:
                        progress(deserialize(reply, self.registry, strict=False))
                    continue
                return decode_answer(properties, reply, self.registry)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RPCTimeout(f"no answer from {self.exchange}/{self.routing_key} within {timeout} s")
            self._connection.process_data_events(time_limit=min(remaining, 1.0))

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()

    def __enter__(self) -> RPCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
