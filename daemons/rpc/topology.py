"""Declares a daemon's exchange, queues and bindings (idempotent, so every worker start may do it)."""

from __future__ import annotations

import re
from typing import Any

import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from daemons.rpc.settings import DaemonSettings

_PRECONDITION_FAILED = 406
_CURRENT_TYPE = re.compile(r"current is (?:the value '(?P<type>[^']+)'|none)")


class QueueTypeMismatch(RuntimeError):
    """A queue exists with another `x-queue-type` than the config asks for; the broker will not change it."""


def bindings(settings: DaemonSettings) -> list[tuple[str, str, str]]:
    """(exchange, queue, routing key) for every binding the daemon needs."""
    result: list[tuple[str, str, str]] = []
    exchanges = (settings.exchange, *settings.extra_exchanges)
    for exchange in exchanges:
        if settings.input_queue and settings.input_key:
            result.append((exchange, settings.input_queue, settings.input_key))
            # Prefixed keys (`tenant.request`) reach the same workers.
            result.append((exchange, settings.input_queue, "#." + settings.input_key))
        result.append((exchange, settings.output_queue, settings.output_key))
    return result


def queue_arguments(queue_type: str) -> dict[str, Any] | None:
    """Classic queues are declared without arguments, as before, so queues made by old clients still match."""
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else None


def declare(channel: BlockingChannel, settings: DaemonSettings) -> None:
    for exchange in (settings.exchange, *settings.extra_exchanges):
        channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    for queue in filter(None, (settings.input_queue, settings.output_queue)):
        try:
            channel.queue_declare(queue=queue, durable=True, arguments=queue_arguments(settings.queue_type))
        except pika.exceptions.ChannelClosedByBroker as exc:
            raise translated(exc, queue, settings) from exc
    for exchange, queue, key in bindings(settings):
        channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)


def translated(exc: pika.exceptions.ChannelClosedByBroker, queue: str, settings: DaemonSettings) -> Exception:
    if exc.reply_code != _PRECONDITION_FAILED or "x-queue-type" not in str(exc.reply_text):
        return exc
    found = _CURRENT_TYPE.search(str(exc.reply_text))
    current = (found.group("type") if found else None) or "classic"
    return QueueTypeMismatch(
        f"queue {queue!r} of vhost {settings.vhost!r} is a {current} queue, but daemon {settings.name} is "
        f"configured for queue_type = {settings.queue_type}; the broker cannot change a queue's type: "
        f"either set queue_type = {current} for {settings.name}, or convert the queue (docs/deployment.rst, "
        f"'Converting a queue'): stop {settings.name} on every host, let the queue drain, "
        f"`rabbitmqctl delete_queue --vhost {settings.vhost} {queue} --if-empty`, then "
        f"`edeposit-amqpd schema create {settings.name}` and start it again"
    )
