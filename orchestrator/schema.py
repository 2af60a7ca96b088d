"""`schema create` and `schema delete`: vhosts, exchanges, queues and bindings of the configured daemons.

`create` in the old tool's words is kept for `edeposit-amqp-tool`; `edeposit-amqpd schema create` reports
under a heading per daemon what it created and what already existed (told apart by passive declares).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pika
import pika.exceptions

from daemons.rpc import daemonize, topology
from daemons.rpc.settings import DaemonSettings
from daemons.rpc.vhosts import admin_for
from orchestrator.advice import command
from orchestrator.config import Config
from orchestrator.control import MasterClient, MasterFiles
from orchestrator.ownership import ACTIVE_STATES, old_script_holder, owner_file


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


# -- create, reported per daemon --------------------------------------------------------------------
def _exists(connection: pika.BlockingConnection, kind: str, name: str) -> tuple[bool, int | None]:
    """Whether an exchange or queue exists (passive declare), and a queue's message count."""
    channel = connection.channel()
    try:
        if kind == "exchange":
            channel.exchange_declare(exchange=name, passive=True)
            found: tuple[bool, int | None] = (True, None)
        else:
            found = (True, channel.queue_declare(queue=name, passive=True).method.message_count)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 404:
            raise
        return False, None
    if channel.is_open:
        channel.close()
    return found


def _objects(settings: DaemonSettings) -> list[tuple[str, str]]:
    exchanges = [("exchange", e) for e in (settings.exchange, *settings.extra_exchanges)]
    return exchanges + [("queue", q) for q in filter(None, (settings.input_queue, settings.output_queue))]


def create_reported(config: Config, daemons: Iterable[DaemonSettings], out: Callable[[str], None] = print) -> None:
    """Make each daemon's vhost, exchanges, queues and bindings, saying what was created and what existed."""
    admin = admin_for(config.management_url, config.amqp.user, config.amqp.password)
    vhosts: dict[str, str] = {}
    for settings in daemons:
        out(f"{settings.name} (vhost '{settings.vhost}'):")
        if settings.vhost in vhosts:
            out(f"  vhost '{settings.vhost}': {vhosts[settings.vhost]} (above)")
        else:
            vhosts[settings.vhost] = "created" if admin.create(settings.vhost, config.amqp.user) else "already existed"
            out(f"  vhost '{settings.vhost}': {vhosts[settings.vhost]}")
        connection = pika.BlockingConnection(config.amqp.parameters(settings.vhost, name="edeposit-amqpd schema"))
        try:
            before = {obj: _exists(connection, *obj) for obj in _objects(settings)}
            topology.declare(connection.channel(), settings)
        finally:
            connection.close()
        for (kind, name), (existed, messages) in before.items():
            waiting = f" ({messages} message{'s' if messages != 1 else ''} waiting)" if messages else ""
            shown = "quorum queue" if kind == "queue" and settings.queue_type == "quorum" else kind
            out(f"  {shown} '{name}': {'already existed' if existed else 'created'}{waiting}")
        for exchange, queue, key in topology.bindings(settings):
            out(f"  binding {exchange}[{key!r}] -> '{queue}': bound")
    out("(AMQP cannot tell whether a binding existed; binding again changes nothing.)")


# -- delete ---------------------------------------------------------------------------------------
@dataclass
class Removal:
    """What `schema delete` removes in one vhost: the whole vhost, or only what no other daemon uses."""

    vhost: str
    daemons: list[str]
    whole_vhost: bool
    objects: list[tuple[str, str]] = field(default_factory=list)
    kept: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def plan_delete(config: Config, targets: Sequence[DaemonSettings]) -> list[Removal]:
    """A vhost goes whole when no other configured daemon (enabled or not) uses it; else only the
    exchanges and queues the other daemons of that vhost do not use."""
    chosen = {d.name for d in targets}
    plans = []
    for vhost in dict.fromkeys(d.vhost for d in targets):
        users = [d for d in config.daemons.values() if d.vhost == vhost]
        mine = [d for d in users if d.name in chosen]
        others = [d for d in users if d.name not in chosen]
        removal = Removal(vhost, [d.name for d in mine], whole_vhost=not others)
        used_by: dict[tuple[str, str], list[str]] = {}
        for other in others:
            for obj in _objects(other):
                used_by.setdefault(obj, []).append(other.name)
        for obj in dict.fromkeys(obj for d in mine for obj in _objects(d)):
            if obj in used_by:
                removal.kept[obj] = used_by[obj]
            else:
                removal.objects.append(obj)
        plans.append(removal)
    return plans


def running_holders(config: Config, targets: Iterable[DaemonSettings]) -> list[str]:
    """Why a daemon's schema must stay: its master group is active, or a process holds its owner lock."""
    client = MasterClient(MasterFiles.for_config(config))
    active: set[str] = set()
    if client.is_running():
        active = {info["group"] for info in client.processes() if info["statename"] in ACTIVE_STATES}
    reasons = []
    for settings in targets:
        name = settings.name
        if name in active:
            reasons.append(f"daemon {name} runs under the master: stop it first with {command(config, 'stop', name)}")
            continue
        script = old_script_holder(config, name)
        if script:
            reasons.append(script)
            continue
        try:
            os.close(daemonize.claim(owner_file(config, name), exclusive=True))
        except daemonize.OwnedElsewhere:
            reasons.append(f"daemon {name} is running (a process holds {owner_file(config, name)}): stop it first")
    return reasons


def describe_delete(config: Config, plans: Sequence[Removal], out: Callable[[str], None] = print) -> bool:
    """Print what would go, with the messages waiting in each queue; False when nothing exists to delete."""
    admin = admin_for(config.management_url, config.amqp.user, config.amqp.password)
    existing = set(admin.list_vhosts())
    anything = False
    out(f"On the broker at {config.amqp.host}:{config.amqp.port}:")
    for plan in plans:
        out(f"{', '.join(plan.daemons)} (vhost '{plan.vhost}'):")
        if plan.vhost not in existing:
            out(f"  vhost '{plan.vhost}' does not exist: nothing to delete")
            continue
        connection = pika.BlockingConnection(config.amqp.parameters(plan.vhost, name="edeposit-amqpd schema"))
        try:
            if plan.whole_vhost:
                anything = True
                out(f"  delete vhost '{plan.vhost}' with everything in it")
            for kind, name in plan.objects:
                exists, messages = _exists(connection, kind, name)
                if not exists:
                    if not plan.whole_vhost:
                        out(f"  {kind} '{name}': does not exist")
                    continue
                anything = True
                lost = f", {messages} message{'s' if messages != 1 else ''} waiting would be lost" if messages else ""
                out(f"  {'  with ' if plan.whole_vhost else 'delete '}{kind} '{name}'{lost}")
            for (kind, name), users in plan.kept.items():
                out(f"  keep {kind} '{name}' (also used by {', '.join(users)})")
        finally:
            connection.close()
    return anything


def delete(config: Config, plans: Sequence[Removal], out: Callable[[str], None] = print) -> None:
    admin = admin_for(config.management_url, config.amqp.user, config.amqp.password)
    existing = set(admin.list_vhosts())
    for plan in plans:
        if plan.vhost not in existing:
            continue
        if plan.whole_vhost:
            admin.delete(plan.vhost)
            out(f"deleted vhost '{plan.vhost}'")
            continue
        connection = pika.BlockingConnection(config.amqp.parameters(plan.vhost, name="edeposit-amqpd schema"))
        try:
            for kind, name in plan.objects:
                if not _exists(connection, kind, name)[0]:
                    continue
                channel = connection.channel()
                if kind == "exchange":
                    channel.exchange_delete(exchange=name)
                else:
                    channel.queue_delete(queue=name)
                channel.close()
                out(f"deleted {kind} '{name}' in vhost '{plan.vhost}'")
        finally:
            connection.close()
