"""Asks the broker what the master needs to know: does it answer, do the vhosts exist, how full are queues.

Every check uses one short-lived connection per vhost with a short timeout, so a dead broker costs
seconds, not minutes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import pika
import pika.exceptions

from daemons.rpc import nodes
from daemons.rpc.settings import AMQPSettings, DaemonSettings

PROBE_TIMEOUT = 3.0


class BrokerUnreachable(RuntimeError):
    """The broker does not answer or refuses our credentials; the text says which and how to fix it."""


class MissingVhosts(RuntimeError):
    """Vhosts the daemons need do not exist; the text names them and `schema create`."""


@dataclass(frozen=True)
class QueueState:
    depth: int | None
    consumers: int | None


def _probe_settings(amqp: AMQPSettings, timeout: float) -> AMQPSettings:
    return dataclasses.replace(amqp, connection_timeout=min(amqp.connection_timeout, timeout), heartbeat=0)


def _connect(amqp: AMQPSettings, vhost: str) -> pika.BlockingConnection | None:
    """A connection to `vhost`, or None when the broker says the vhost is not there (or not ours)."""
    try:
        return nodes.open_first(amqp.node_parameters(vhost, name="edeposit-amqpd check"))[0]
    except pika.exceptions.ProbableAccessDeniedError:
        return None
    except pika.exceptions.ConnectionClosedByBroker as exc:
        if exc.reply_code == 530:  # NOT_ALLOWED - vhost not found
            return None
        raise BrokerUnreachable(f"the broker at {amqp.where} closed the connection: {exc}") from exc
    except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError) as exc:
        raise BrokerUnreachable(
            f"the broker at {amqp.where} refused user {amqp.user!r}: check [amqp] user and password"
        ) from exc
    except pika.exceptions.AMQPError as exc:
        raise BrokerUnreachable(
            f"no broker answers at {amqp.where} ({type(exc).__name__} {exc}): start RabbitMQ "
            f"or fix [amqp] host and port"
        ) from exc


def check_vhosts(amqp: AMQPSettings, daemons: Iterable[DaemonSettings], timeout: float = PROBE_TIMEOUT) -> None:
    """Raise BrokerUnreachable or MissingVhosts unless every daemon's vhost can be opened."""
    probe = _probe_settings(amqp, timeout)
    users: dict[str, list[str]] = {}
    for settings in daemons:
        users.setdefault(settings.vhost, []).append(settings.name)
    missing = []
    for vhost, names in users.items():
        connection = _connect(probe, vhost)
        if connection is None:
            missing.append((vhost, names))
        elif connection.is_open:
            connection.close()
    if missing:
        lines = [
            f"vhost {vhost!r} (daemons: {', '.join(names)}) does not exist or user {amqp.user!r} may not use it: "
            f"run `edeposit-amqpd schema create {names[0]}`"
            for vhost, names in missing
        ]
        raise MissingVhosts("\n".join(lines + ["(or `edeposit-amqpd schema create all` to create every vhost)"]))


def queue_states(amqp: AMQPSettings, daemons: Iterable[DaemonSettings],
                 timeout: float = PROBE_TIMEOUT) -> dict[str, QueueState]:
    """Messages waiting in and consumers of each daemon's input queue; raises BrokerUnreachable."""
    probe = _probe_settings(amqp, timeout)
    by_vhost: dict[str, list[DaemonSettings]] = {}
    for settings in daemons:
        by_vhost.setdefault(settings.vhost, []).append(settings)
    states: dict[str, QueueState] = {}
    for vhost, members in by_vhost.items():
        connection = _connect(probe, vhost)
        if connection is None:
            states.update({s.name: QueueState(None, None) for s in members})
            continue
        try:
            for settings in members:
                states[settings.name] = _queue_state(connection, settings.input_queue)
        finally:
            if connection.is_open:
                connection.close()
    return states


def _queue_state(connection: pika.BlockingConnection, queue: str | None) -> QueueState:
    if queue is None:
        return QueueState(None, None)
    channel = connection.channel()
    try:
        method = channel.queue_declare(queue=queue, passive=True).method
    except pika.exceptions.ChannelClosedByBroker:  # 404: not declared yet
        return QueueState(None, None)
    if channel.is_open:
        channel.close()
    return QueueState(method.message_count, method.consumer_count)
