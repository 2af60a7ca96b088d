"""The old `edeposit.amqp.amqpdaemon`: `getConParams(virtualhost)` and `AMQPDaemon`, on edeposit-amqpd.

`AMQPDaemon(con_param, queue, out_exch, out_key, react_fn, glob)` serves `react_fn(message, send_back)`
with the new worker: the request is decoded into the namedtuples found in `glob` (pass `globals()`),
the return value is the answer, an exception becomes an error response with the old headers
(`exception`, `exception_name`, `exception_type`, `traceback`, `UUID`).

Note: the second argument `react_fn` gets is both forms the old versions passed: call it to send a
progress message (`send_back(data)`), or use it as the request's UUID (a `str`), as in the earlier
`react_fn(message, UUID)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pika

from daemons.rpc import answers
from daemons.rpc.handler import SendBack
from daemons.rpc.wire import StructureRegistry
from edeposit.amqp import settings
from edeposit.amqp.pikadaemon import PikaDaemon
from edeposit.amqp.serializers import deserialize, registry_of, serialize


def getConParams(virtualhost: str) -> pika.ConnectionParameters:
    """Connection parameters for `virtualhost`: host, port and credentials of `settings` (the INI's unless
    `substitute_globals` changed them), heartbeat, timeouts and TLS of the INI's [amqp]."""
    amqp = dataclasses.replace(
        settings.loaded_config().amqp, host=settings.RABBITMQ_HOST, port=int(settings.RABBITMQ_PORT),
        user=settings.RABBITMQ_USER_NAME, password=settings.RABBITMQ_USER_PASSWORD,
    )
    return amqp.parameters(virtualhost, name="edeposit.amqp")


class UUIDSendBack(str):
    """The request's UUID (a str) that can also be called as `send_back(data)` to send a progress message."""

    _send: SendBack

    def __new__(cls, uuid: Any, send: SendBack) -> UUIDSendBack:
        made = super().__new__(cls, uuid if isinstance(uuid, str) else str(uuid))
        made._send = send
        return made

    def __call__(self, data: Any) -> None:
        self._send(data)


class AMQPDaemon(PikaDaemon):
    def __init__(self, con_param: pika.ConnectionParameters, queue: str, out_exch: str, out_key: str,
                 react_fn: Callable[[Any, Any], Any], glob: Mapping[str, Any]) -> None:
        super().__init__(con_param, queue, out_exch, out_key)
        self.react_fn = react_fn
        self.globals = glob

    def _registry(self) -> StructureRegistry:
        return registry_of(self.globals)

    def parseKey(self, method_frame: Any) -> str:
        """The routing key of the answers: `prefix.<out_key>` for `prefix.<in_key>`, else `out_key`."""
        return answers.routing_key_for(getattr(method_frame, "routing_key", ""), self.settings.input_key,
                                       self.output_key)

    def get_sendback(self, uuid: Any, key: str) -> UUIDSendBack:
        """What `react_fn` gets second: progress messages with this UUID and key, sent at once."""
        in_hand = self._in_hand
        if in_hand is not None and in_hand.matches(uuid, key):
            return UUIDSendBack(uuid, in_hand.send_back)
        return UUIDSendBack(uuid, lambda data: self.sendResponse(serialize(data), uuid, key))

    def onMessageReceived(self, method_frame: Any, properties: pika.BasicProperties, body: bytes) -> bool:
        uuid = (properties.headers or {}).get("UUID", "")
        key = self.parseKey(method_frame)
        in_hand = self._in_hand
        decoded = in_hand is not None and in_hand.request.body is body
        message = in_hand.message if in_hand is not None and decoded else deserialize(body, self.globals)
        result = self.react_fn(message, self.get_sendback(uuid, key))
        if not self._respond(result, uuid, key):
            self.sendResponse(serialize(result), uuid, key)
        return True
