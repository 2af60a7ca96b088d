"""Test handler: tells which request it serves and publishes to other exchanges of its vhost."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

from daemons.rpc.handler import HandlerContext, Publish, current_request

WhoAmI = namedtuple("WhoAmI", "")
Forward = namedtuple("Forward", "exchange routing_key value")
Served = namedtuple("Served", "uuid routing_key answer_key")

STRUCTURES = (WhoAmI, Forward, Served)

_publish: list[Publish] = []


def configure(context: HandlerContext) -> None:
    _publish[:] = [context.publish]


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    request = current_request()
    assert request is not None
    if isinstance(message, Forward):
        _publish[0](message.value, message.routing_key, exchange=message.exchange, uuid=request.uuid)
        return "forwarded"
    return Served(request.uuid, request.method.routing_key, request.answer_key)
