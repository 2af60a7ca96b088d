"""Shapes of what a worker publishes: responses, progress messages and error responses."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import pika

from daemons.rpc.wire import serialize

JSON = "application/json"
TEXT = "application/text"
PERSISTENT = 2


@dataclass(frozen=True)
class Answer:
    """One message to publish: to the daemon's exchange, and also to `reply_to` when the request asked."""

    body: bytes
    properties: pika.BasicProperties
    routing_key: str
    reply_to: str | None = None


def routing_key_for(incoming_key: str, input_key: str | None, output_key: str) -> str:
    """`tenant.request` is answered on `tenant.result`; anything else on the output key."""
    if input_key and incoming_key.endswith("." + input_key):
        return incoming_key[: -len(input_key)] + output_key
    return output_key


def _properties(content_type: str, headers: dict[str, Any], kind: str,
                correlation_id: str | None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=content_type,
        delivery_mode=PERSISTENT,
        headers=headers,
        correlation_id=correlation_id,
        type=kind,
    )


def success(value: Any, uuid: Any, routing_key: str, reply_to: str | None, correlation_id: str | None,
            progress: bool = False) -> Answer:
    """A response (or, with `progress`, a progress message of the same shape)."""
    kind = "progress" if progress else "response"
    return Answer(
        body=serialize(value),
        properties=_properties(JSON, {"UUID": uuid}, kind, correlation_id),
        routing_key=routing_key,
        reply_to=reply_to,
    )


def failure(exc: BaseException, uuid: Any, routing_key: str, reply_to: str | None,
            correlation_id: str | None) -> Answer:
    """An error response with the exception headers old clients read."""
    text = str(exc)
    headers = {
        "UUID": uuid,
        "exception": text,
        "exception_name": type(exc).__name__,
        "exception_type": str(type(exc)),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    return Answer(
        body=text.encode("utf-8"),
        properties=_properties(TEXT, headers, "exception", correlation_id),
        routing_key=routing_key,
        reply_to=reply_to,
    )
