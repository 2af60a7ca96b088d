"""Connection and daemon settings as plain data, so the worker needs no config machinery."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika


def parse_nodes(host: str, default_port: int) -> list[tuple[str, int]]:
    """`host1[:port], host2[:port], ...` as (host, port) pairs, in order; `[v6addr]:port` for IPv6."""
    nodes = []
    for item in (part.strip() for part in host.split(",")):
        if not item:
            continue
        name, port_text = item, ""
        if item.startswith("["):
            name, _, rest = item[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else rest
        elif item.count(":") == 1:
            name, _, port_text = item.partition(":")
        port = int(port_text) if port_text.isdigit() else (default_port if not port_text else -1)
        if not name or not 0 < port < 65536:
            raise ValueError(f"bad broker node {item!r}; expected host or host:port")
        nodes.append((name, port))
    if not nodes:
        raise ValueError("no broker node given; expected host1[:port], host2[:port], ...")
    return nodes


@dataclass(frozen=True)
class AMQPSettings:
    """How to reach the broker; one instance serves every vhost.

    `host` names one node or, for a cluster, several (`host1[:port], host2[:port]`); `port` is the port
    of every node that names none.
    """

    host: str = "127.0.0.1"
    port: int = 5672
    user: str = "guest"
    password: str = "guest"
    heartbeat: int = 60
    connection_timeout: float = 10.0
    ssl: bool = False
    ssl_ca: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    reconnect_max_delay: float = 30.0
    queue_type: str = "classic"  # every daemon's, unless its own section sets one

    @property
    def nodes(self) -> list[tuple[str, int]]:
        return parse_nodes(self.host, self.port)

    @property
    def where(self) -> str:
        """The nodes as people write them, for messages."""
        return ", ".join(f"{host}:{port}" for host, port in self.nodes)

    def parameters(self, vhost: str, name: str = "edeposit-amqpd") -> pika.ConnectionParameters:
        """Connection parameters of the first node for one vhost; `name` shows up in the broker's connection list."""
        return self.node_parameters(vhost, name)[0]

    def _node(self, host: str, port: int, vhost: str, name: str) -> pika.ConnectionParameters:
        ssl_options = None
        if self.ssl:
            context = ssl.create_default_context(cafile=self.ssl_ca)
            if self.ssl_cert:
                context.load_cert_chain(self.ssl_cert, self.ssl_key)
            ssl_options = pika.SSLOptions(context, host)  # each node's certificate names that node
        return pika.ConnectionParameters(
            host=host,
            port=port,
            virtual_host=vhost,
            credentials=pika.PlainCredentials(self.user, self.password),
            heartbeat=self.heartbeat,
            blocked_connection_timeout=max(self.connection_timeout, 1.0) * 6,
            socket_timeout=self.connection_timeout,
            stack_timeout=self.connection_timeout * 2,
            connection_attempts=1,
            ssl_options=ssl_options,
            client_properties={"connection_name": name},
        )

    def node_parameters(self, vhost: str, name: str = "edeposit-amqpd") -> list[pika.ConnectionParameters]:
        """Every broker node to try, in order; pika's connection workflow walks the list."""
        return [self._node(host, port, vhost, name) for host, port in self.nodes]


@dataclass(frozen=True)
class DaemonSettings:
    """Everything one worker needs to know about its daemon.

    The defaults here are the only ones: the configspec checks types and ranges, and keys a config leaves
    out keep these values (docs/config.rst lists them).
    """

    name: str
    handler: str
    vhost: str
    exchange: str
    input_queue: str | None = "daemon"
    output_queue: str = "plone"
    input_key: str | None = "request"
    output_key: str = "result"
    enabled: bool = True
    processes: int = 1
    prefetch: int = 1
    max_message_bytes: int = 64 * 1024 * 1024
    max_answer_bytes: int = 128 * 1024 * 1024
    poison_limit: int = 3
    # Seconds supervisord waits after TERM before KILL; None: [orchestrator] stopwaitsecs. A daemon whose
    # handler has a time limit of its own needs more than that limit (builtin.py sets calibre's).
    stopwaitsecs: int | None = None
    queue_type: str = "classic"
    delivery_limit: int = 10
    structures: tuple[str, ...] = ()
    extra_exchanges: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    # Who runs the worker ("" or "root": the master's own user) and the group of its directories.
    user: str = ""
    group: str = ""
    environment: tuple[str, ...] = ()  # KEY=value, added to the worker's environment
    python_path: tuple[str, ...] = ()  # directories searched first for the handler's modules
    directory: str = ""  # the worker's working directory ("": the master's)
    health_interval: float = 60.0  # seconds between two rechecks of the handler's health() note
    refused_retry_seconds: float = 60.0  # how long an answer the broker refuses (nack) is published again
    data_dir: Path = Path(".")
    state_dir: Path = Path(".")
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def health_note_path(self) -> Path:
        """Where the worker leaves its handler's `health()` note and `status` reads it."""
        return self.state_dir / "notes" / f"{self.name}.txt"

    @property
    def is_rpc(self) -> bool:
        return self.input_queue is not None and self.input_key is not None
