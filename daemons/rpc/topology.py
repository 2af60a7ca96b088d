"""Declares a daemon's exchange, queues and bindings (idempotent, so every worker start may do it)."""

from __future__ import annotations

from pika.adapters.blocking_connection import BlockingChannel

from daemons.rpc.settings import DaemonSettings


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


def declare(channel: BlockingChannel, settings: DaemonSettings) -> None:
    for exchange in (settings.exchange, *settings.extra_exchanges):
        channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    for queue in filter(None, (settings.input_queue, settings.output_queue)):
        channel.queue_declare(queue=queue, durable=True)
    for exchange, queue, key in bindings(settings):
        channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)
