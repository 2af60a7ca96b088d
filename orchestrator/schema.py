"""`schema create`: vhosts, exchanges, queues and bindings for the configured daemons."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pika

from daemons.rpc import topology
from daemons.rpc.settings import DaemonSettings
from daemons.rpc.vhosts import admin_for
from orchestrator.config import Config


def create(config: Config, daemons: Iterable[DaemonSettings], out: Callable[[str], None] = print,
           note: Callable[[str], None] | None = None) -> None:
    """Make each daemon's vhost (if missing) and declare its topology, reporting as the old tool did.

    `note` receives the vhost lines, which the old tool did not print (default: `out`).
    """
    note = note or out
    admin = admin_for(config.management_url, config.amqp.user, config.amqp.password)
    made: set[str] = set()
    for settings in daemons:
        if settings.vhost not in made:
            created = admin.create(settings.vhost, config.amqp.user)
            note(f"{'Created' if created else 'Found'} vhost '{settings.vhost}'.")
            made.add(settings.vhost)
        declare_and_report(config, settings, out)


def declare_and_report(config: Config, settings: DaemonSettings, out: Callable[[str], None] = print) -> None:
    connection = pika.BlockingConnection(config.amqp.node_parameters(settings.vhost, name="edeposit-amqpd schema"))
    try:
        topology.declare(connection.channel(), settings)
    finally:
        connection.close()
    for exchange in (settings.exchange, *settings.extra_exchanges):
        out(f"Created exchange '{exchange}'.")
    out("Creating queues:")
    for queue in filter(None, (settings.input_queue, settings.output_queue)):
        kind = "quorum queue" if settings.queue_type == "quorum" else "queue"  # the old tool's line for classic
        out(f"\tCreated durable {kind} '{queue}'.")
    out("")
    out("Routing exchanges using routing key to queues:")
    for exchange, queue, key in topology.bindings(settings):
        out(f"\tRouting exchange {exchange}['{key}'] -> '{queue}'.")
    out("")
