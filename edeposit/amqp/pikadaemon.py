"""The old `edeposit.amqp.pikadaemon.PikaDaemon`, served by the edeposit-amqpd worker (daemons.rpc.worker).

A subclass overrides `onMessageReceived(method_frame, properties, body)` and answers with
`sendResponse(message, UUID, routing_key)`, as before; underneath, the new worker does the rest: manual
acks after confirmed answers, reconnects, SIGTERM after the message in hand, error responses with the old
headers for an exception, size limits and poison messages.

Note: every request gets exactly one final answer. The last `sendResponse` for the request in hand
becomes it; an earlier one goes out as a progress message when the next is sent; a request answered with
nothing gets `null`. `ack()` does nothing (the worker acks) and the return value of `onMessageReceived`
is not needed. Bodies must be JSON (the wire format).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
from dataclasses import dataclass
from typing import Any

import pika

from daemons.rpc.handler import Hooks, Request, SendBack, current_request
from daemons.rpc.loader import LoadedHandler
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from daemons.rpc.wire import TAG, StructureRegistry
from daemons.rpc.worker import Worker
from edeposit.amqp.daemonwrapper import DaemonRunnerWrapper
from edeposit.amqp.settings import loaded_config
from orchestrator.config import Config


class _AnyStructure(StructureRegistry):
    """Leaves every structure a tagged dict: a PikaDaemon reads the raw body itself."""

    def __contains__(self, name: object) -> bool:
        return True

    def build(self, name: str, fields: Any) -> Any:
        return {**fields, TAG: name}


@dataclass
class _InHand:
    """The request `onMessageReceived` is answering and the answer it has given so far."""

    request: Request
    message: Any
    send_back: SendBack
    final: Any = None
    answered: bool = False

    def matches(self, uuid: Any, routing_key: str) -> bool:
        return uuid == self.request.uuid and routing_key == self.request.answer_key

    def answer(self, value: Any) -> None:
        if self.answered:
            self.send_back(self.final)  # the previous answer was not the last: a progress message
        self.final, self.answered = value, True


def decoded(message: str | bytes) -> Any:
    """The value of JSON text the old API hands over (what `serializers.serialize` makes)."""
    try:
        return json.loads(message)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"expected JSON text (e.g. serializers.serialize(value)), got {message!r:.80}: "
                         f"{exc}") from None


def amqp_of(params: pika.ConnectionParameters, config: Config) -> AMQPSettings:
    """The broker settings of `params` (host, port, credentials); TLS and timeouts come from the INI."""
    credentials = params.credentials
    return dataclasses.replace(
        config.amqp, host=params.host, port=params.port,
        user=getattr(credentials, "username", config.amqp.user),
        password=getattr(credentials, "password", config.amqp.password),
    )


def daemon_settings(config: Config, vhost: str, queue: str, exchange: str, output_key: str) -> DaemonSettings:
    """The configured daemon serving this queue (so the master and this script exclude each other), or a new
    one named `<vhost>-<queue>` with the default keys."""
    for settings in config.daemons.values():
        if (settings.vhost, settings.input_queue, settings.exchange) == (vhost, queue, exchange):
            return dataclasses.replace(settings, output_key=output_key)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{vhost}-{queue}")
    state_dir = config.orchestrator.state_dir
    return DaemonSettings(name=name, handler="edeposit.amqp.pikadaemon:PikaDaemon", vhost=vhost, exchange=exchange,
                          input_queue=queue, output_key=output_key, state_dir=state_dir, data_dir=state_dir / name)


class PikaDaemon(DaemonRunnerWrapper):
    def __init__(self, connection_param: pika.ConnectionParameters, queue: str, output_exchange: str,
                 output_key: str) -> None:
        config = loaded_config()
        self.connection_param = connection_param
        self.queue = queue
        self.output_exchange = output_exchange
        self.output_key = output_key
        self.content_type = "application/json"
        self.settings = daemon_settings(config, connection_param.virtual_host, queue, output_exchange, output_key)
        self.log = logging.getLogger(f"edeposit.{self.settings.name}")
        self._worker: Worker | None = None
        self._in_hand: _InHand | None = None
        super().__init__(self.settings.name)

    # -- the new runtime underneath --------------------------------------------------------------
    def _registry(self) -> StructureRegistry:
        return _AnyStructure()

    def body(self) -> None:
        """Serve the queue with the edeposit-amqpd worker until SIGTERM. Don't override."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        handler = LoadedHandler(module=sys.modules[type(self).__module__], react=self._react,
                                registry=self._registry(), hooks=Hooks(), options_spec=None)
        worker = Worker(self.settings, amqp_of(self.connection_param, self.config), handler, self.log)
        worker.install_signal_handlers()
        self._worker = worker
        self.log.info("starting %s (%s, %d structures)", self.settings.name, type(self).__name__,
                      len(handler.registry))
        try:
            worker.run()
        finally:
            self._worker = None

    def _react(self, message: Any, send_back: SendBack) -> Any:
        request = current_request()
        assert request is not None, "called by the worker only"
        in_hand = self._in_hand = _InHand(request, message, send_back)
        try:
            self.onMessageReceived(request.method, request.properties, request.body)
        finally:
            self._in_hand = None
        return in_hand.final

    def _respond(self, value: Any, uuid: Any, routing_key: str) -> bool:
        """Take `value` as the answer to the request in hand, if it is for that request."""
        in_hand = self._in_hand
        if in_hand is None or not in_hand.matches(uuid, routing_key):
            return False
        in_hand.answer(value)
        return True

    # -- the old hooks -----------------------------------------------------------------------------
    def onMessageReceived(self, method_frame: Any, properties: pika.BasicProperties, body: bytes) -> bool:
        """Called for each request: override it. The default logs the request and answers nothing (`null`)."""
        self.log.info("message on %s: properties %s, body %r", method_frame.routing_key, properties, body[:200])
        return True

    def ack(self, ack_delivery_tag: int) -> None:
        """Nothing to do: the worker acks each request once its final answer was confirmed."""
        self.log.debug("ack(%s): the worker acks after the answer is confirmed", ack_delivery_tag)

    def sendMessage(self, exchange: str, routing_key: str, message: str | bytes,
                    properties: pika.BasicProperties | None = None, UUID: Any = None) -> None:
        """Publish JSON text to any exchange of the daemon's vhost (confirmed). Only the `UUID` header of
        `properties` is kept: content type and persistence are always JSON and persistent."""
        worker = self._worker
        if worker is None:
            raise RuntimeError("sendMessage() works while the daemon runs (from onMessageReceived or react_fn)")
        if UUID is None:
            UUID = ((properties.headers or {}) if properties is not None else {}).get("UUID", "")
        worker.publish(decoded(message), routing_key, exchange=exchange, uuid=UUID)

    def sendResponse(self, message: str | bytes, UUID: Any, routing_key: str) -> None:
        """Answer on the daemon's exchange; for the request in hand this is its (final) answer."""
        if not self._respond(decoded(message), UUID, routing_key):
            self.sendMessage(self.output_exchange, routing_key, message, UUID=UUID)

    def onExit(self) -> None:
        """Called when the daemon stopped; the worker has closed its connection already."""
