"""Shapes of what a worker publishes: responses, progress messages and error responses, each bounded.

Bounds (docs/wire.rst): an error response's `exception` header keeps at most ERROR_TEXT_BYTES of UTF-8,
`traceback` TRACEBACK_BYTES, `exception_name` and `exception_type` NAME_BYTES, and its body
ERROR_BODY_BYTES (or the daemon's max_answer_bytes, if smaller). What is cut is replaced by the marker
` [... N characters cut]`. All properties of any answer must fit one AMQP content header frame of
`frame_max` bytes (the frame_max the worker asks for, pika's default 131072; RabbitMQ's default too):
an error response that does not fit loses its traceback, then most of its text; an answer whose own UUID
is too big to fit raises AnswerCannotFit, and the worker logs that decision instead of publishing.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import pika
from pika import spec

from daemons.rpc.wire import serialize

JSON = "application/json"
TEXT = "application/text"
PERSISTENT = 2

FRAME_MAX = pika.ConnectionParameters.DEFAULT_FRAME_MAX
ERROR_TEXT_BYTES = 8 * 1024
TRACEBACK_BYTES = 32 * 1024
NAME_BYTES = 1024
ERROR_BODY_BYTES = 64 * 1024
MARKER = " [... {cut} characters cut]"
# Frame header and end (8 bytes), class id, weight and body size (12 bytes) around the properties.
_CONTENT_HEADER_OVERHEAD = spec.FRAME_HEADER_SIZE + spec.FRAME_END_SIZE + 12


class AnswerCannotFit(ValueError):
    """The answer's properties (its UUID header, mostly) do not fit one frame of frame_max bytes."""


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


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 (the marker included), saying how many characters went."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return text
    marker_room = len(MARKER.format(cut=len(text)).encode())
    kept = encoded[: max(limit - marker_room, 0)].decode("utf-8", "ignore")
    return kept + MARKER.format(cut=len(text) - len(kept))


def header_bytes(properties: pika.BasicProperties) -> int:
    """Size of the content header frame that carries `properties`."""
    return sum(len(part) for part in properties.encode()) + _CONTENT_HEADER_OVERHEAD


def fits(properties: pika.BasicProperties, frame_max: int = FRAME_MAX) -> bool:
    return header_bytes(properties) <= frame_max


def _properties(content_type: str, headers: dict[str, Any], kind: str,
                correlation_id: str | None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=content_type,
        delivery_mode=PERSISTENT,
        headers=headers,
        correlation_id=correlation_id,
        type=kind,
    )


# What a response's properties take besides its UUID, at most: the flags, content type, delivery mode,
# type, a correlation id of 255 bytes and the headers table around the UUID.
_SUCCESS_PROPERTIES_BOUND = 512


def _surely_fits(uuid: Any, frame_max: int) -> bool:
    """Most UUIDs are short strings: then the properties fit without encoding them to count (4 bytes of
    UTF-8 per character at most)."""
    return type(uuid) is str and _SUCCESS_PROPERTIES_BOUND + 4 * len(uuid) + _CONTENT_HEADER_OVERHEAD <= frame_max


def success(value: Any, uuid: Any, routing_key: str, reply_to: str | None, correlation_id: str | None,
            progress: bool = False, frame_max: int = FRAME_MAX) -> Answer:
    """A response (or, with `progress`, a progress message of the same shape); AnswerCannotFit as above."""
    kind = "progress" if progress else "response"
    properties = _properties(JSON, {"UUID": uuid}, kind, correlation_id)
    if not _surely_fits(uuid, frame_max) and not fits(properties, frame_max):
        raise AnswerCannotFit(f"the answer's properties take {header_bytes(properties)} bytes, more than "
                              f"frame_max = {frame_max}")
    return Answer(body=serialize(value), properties=properties, routing_key=routing_key, reply_to=reply_to)


def failure(exc: BaseException, uuid: Any, routing_key: str, reply_to: str | None, correlation_id: str | None,
            body_limit: int = ERROR_BODY_BYTES, frame_max: int = FRAME_MAX) -> Answer:
    """An error response with the exception headers old clients read, bounded as the module says."""
    text = str(exc)
    trace = "".join(traceback.format_exception(exc))
    for text_limit, trace_limit in ((ERROR_TEXT_BYTES, TRACEBACK_BYTES), (ERROR_TEXT_BYTES, 0), (NAME_BYTES, 0)):
        headers = {
            "UUID": uuid,
            "exception": truncate(text, text_limit),
            "exception_name": truncate(type(exc).__name__, NAME_BYTES),
            "exception_type": truncate(str(type(exc)), NAME_BYTES),
            "traceback": truncate(trace, trace_limit),
        }
        properties = _properties(TEXT, headers, "exception", correlation_id)
        if fits(properties, frame_max):
            break
    else:
        raise AnswerCannotFit(f"even a shortened error response takes {header_bytes(properties)} bytes of "
                              f"properties, more than frame_max = {frame_max}; its UUID header alone has "
                              f"{len(str(uuid))} characters")
    return Answer(
        body=truncate(text, min(body_limit, ERROR_BODY_BYTES)).encode("utf-8", "surrogatepass"),
        properties=properties,
        routing_key=routing_key,
        reply_to=reply_to,
    )
