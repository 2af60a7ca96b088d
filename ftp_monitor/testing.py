"""Test tools for the monitor: a log writer that writes the way ProFTPD does, and a queue reader.

    writer = SessionWriter(log_file, pid=4242)
    writer.write(edeposit_record("STOR", "/home/ftp/alice/book.pdf", user="alice", size=1024))

Every record is one `write()` on a descriptor opened with O_APPEND, like each ProFTPD session does, so a
writer keeps writing to a log that was renamed away, as old sessions do after rotation.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika

from daemons.settings import AMQPSettings, DaemonSettings
from ftp_monitor.proftpd_config import EDEPOSIT_FIELDS

_DEFAULT_STATUS = {"STOR": 226, "APPE": 226, "STOU": 226, "RETR": 226, "DELE": 250, "RNFR": 350, "RNTO": 250}


def edeposit_record(command: str, path: str, user: str = "alice", pid: int = 4242, status: int | None = None,
                    size: int = 0, transfer_status: str | None = None, when: str = "2026-11-27T10:00:00+0100") -> bytes:
    """One record in the monitor's own format, without its newline."""
    code = status if status is not None else _DEFAULT_STATUS.get(command, 200)
    if transfer_status is None:
        transfer_status = "success" if command in ("STOR", "APPE", "STOU", "RETR") and code < 400 else "-"
    values = {
        "version": "edeposit1", "time": when, "pid": str(pid), "user": user, "address": "127.0.0.1",
        "protocol": "ftp", "command": command, "status": str(code), "bytes": str(size), "file_size": str(size),
        "file_modified": "false", "transfer_status": transfer_status, "path": path,
    }
    return "\t".join(values[name] for name in EDEPOSIT_FIELDS).encode("utf-8")


def legacy_record(command: str, path: str, user: str = "alice", epoch: int = 1_795_000_000) -> bytes:
    return f"{path}, {user}, {command}, {epoch}".encode()


class SessionWriter:
    """One FTP session's handle on the log: O_APPEND, one write per record."""

    def __init__(self, path: Path, pid: int = 4242) -> None:
        self.path = Path(path)
        self.pid = pid
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: bytes, newline: bool = True) -> None:
        os.write(self.fd, record + (b"\n" if newline else b""))

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Received:
    routing_key: str
    message_id: str | None
    headers: dict[str, Any]
    body: bytes


class QueueReader:
    """Collects what arrives in one queue of a vhost (which the test binds before the monitor publishes)."""

    def __init__(self, amqp: AMQPSettings, vhost: str, exchange: str, queue: str, routing_keys: list[str]) -> None:
        self.connection = pika.BlockingConnection(amqp.parameters(vhost, name="ftp_monitor test reader"))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
        self.channel.queue_declare(queue=queue, durable=True)
        for key in routing_keys:
            self.channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)
        self.queue = queue
        self.received: list[Received] = []

    def drain(self) -> list[Received]:
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.received
            self.received.append(Received(method.routing_key, properties.message_id, properties.headers or {}, body))

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Everything received once at least `count` messages arrived; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while len(self.drain()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.received)} of {count} messages arrived in {self.queue} in {timeout} s")
            self.connection.process_data_events(time_limit=0.05)
        return self.received

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


def monitor_settings(vhost: str, state_dir: Path, log_file: Path, home_root: Path, passwd_file: Path,
                     exchange: str = "ftp", output_queue: str = "plone", **options: Any) -> DaemonSettings:
    """DaemonSettings of an ftp_monitor on `vhost`, as the config loader would build them."""
    return DaemonSettings(
        name="ftp_monitor", handler="ftp_monitor.service:run", vhost=vhost, exchange=exchange, input_queue=None,
        output_queue=output_queue, input_key=None, output_key="result",
        options={"log_file": str(log_file), "log_format": "edeposit", **{k: str(v) for k, v in options.items()}},
        data_dir=state_dir / "ftp_monitor", state_dir=state_dir,
        shared={"ftp": {"home_root": str(home_root), "passwd_file": str(passwd_file),
                        "lock_filename": "delete_me_to_import_files.txt", "proftpd_pidfile": str(state_dir / "pid")}},
    )
