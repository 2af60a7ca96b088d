"""Connection and daemon settings as plain data, so the worker needs no config machinery."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika


@dataclass(frozen=True)
class AMQPSettings:
    """How to reach the broker; one instance serves every vhost."""

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

    def parameters(self, vhost: str, name: str = "edeposit-amqpd") -> pika.ConnectionParameters:
        """Connection parameters for one vhost; `name` shows up in the broker's connection list."""
        ssl_options = None
        if self.ssl:
            context = ssl.create_default_context(cafile=self.ssl_ca)
            if self.ssl_cert:
                context.load_cert_chain(self.ssl_cert, self.ssl_key)
            ssl_options = pika.SSLOptions(context, self.host)
        return pika.ConnectionParameters(
            host=self.host,
            port=self.port,
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
        return [self.parameters(vhost, name)]


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
    structures: tuple[str, ...] = ()
    extra_exchanges: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
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
