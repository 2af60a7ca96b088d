"""The master's files under state_dir and an XML-RPC client for its control socket.

Note: the socket is a unix socket only (mode 0700, no TCP listener), so only its owner can control the
master; besides, every start of the master picks a random user name and password for it, kept in a
mode 0600 file that each request reads. The XML-RPC URL below is a placeholder the transport never
resolves.
"""

from __future__ import annotations

import base64
import http.client
import secrets
import socket
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons.common.atomic import write_atomically

LISTENER_NAME = "edeposit-amqpd-events"
# The metrics endpoint (orchestrator/exporter.py), a program of the master when metrics are on.
EXPORTER_NAME = "edeposit-amqpd-metrics"
# supervisord groups that are the master's own helpers, not daemons.
MASTER_PROGRAMS = (LISTENER_NAME, EXPORTER_NAME)
# Longest path a unix socket accepts (sun_path is 108 bytes including the final NUL).
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class MasterFiles:
    """Every file the master keeps; one place so the CLI, the listener and the tests agree."""

    state_dir: Path
    log_dir: Path

    @classmethod
    def for_config(cls, config: Any) -> MasterFiles:
        return cls(Path(config.orchestrator.state_dir), Path(config.orchestrator.log_dir))

    @property
    def conf(self) -> Path:
        return self.state_dir / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.state_dir / "supervisor.sock"

    @property
    def credentials(self) -> Path:
        """The control socket's user name and password (`user:password`), mode 0600."""
        return self.state_dir / "control.auth"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "supervisord.pid"

    @property
    def records(self) -> Path:
        return self.state_dir / "events"

    @property
    def master_log(self) -> Path:
        return self.log_dir / "supervisord.log"

    @property
    def listener_log(self) -> Path:
        return self.log_dir / "events.log"

    @property
    def exporter_log(self) -> Path:
        return self.log_dir / "metrics.log"

    def daemon_logs(self, name: str, processes: int) -> list[Path]:
        """One log per worker process: `<name>.log`, or `<name>-<n>.log` when `processes` > 1."""
        if processes == 1:
            return [self.log_dir / f"{name}.log"]
        return [self.log_dir / f"{name}-{number}.log" for number in range(processes)]

    def master_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None


def new_credentials(files: MasterFiles) -> tuple[str, str]:
    """A fresh random user name and password for the control socket of a master about to start."""
    user, password = f"edeposit-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    files.state_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(files.credentials, f"{user}:{password}\n", mode=0o600, durable=False)
    return user, password


def read_credentials(path: Path) -> tuple[str, str] | None:
    """The running master's credentials, or None when there are none (or this user may not read them)."""
    try:
        user, sep, password = path.read_text().strip().partition(":")
    except OSError:
        return None
    return (user, password) if sep and user and password else None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class UnixSocketTransport(xmlrpc.client.Transport):
    """XML-RPC over a unix socket.

    Note: written here rather than taken from supervisor.xmlrpc, whose import costs every listener and
    every `status` call some 13 MB and a tenth of a second.
    """

    def __init__(self, path: Path, timeout: float = 60.0, credentials: Path | None = None) -> None:
        super().__init__()
        self.socket_path = str(path)
        self.timeout = timeout
        self.credentials = credentials

    @classmethod
    def for_master(cls, files: MasterFiles) -> UnixSocketTransport:
        return cls(files.socket, credentials=files.credentials)

    def send_headers(self, connection: http.client.HTTPConnection, headers: list[tuple[str, str]]) -> None:
        """Adds Basic authentication with the credentials of the running master, read at each request."""
        found = read_credentials(self.credentials) if self.credentials else None
        if found:
            token = base64.b64encode(":".join(found).encode()).decode()
            headers = [*headers, ("Authorization", f"Basic {token}")]
        super().send_headers(connection, headers)

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self.socket_path, self.timeout)


class MasterClient:
    """Talks to a running supervisord over the control socket."""

    def __init__(self, files: MasterFiles) -> None:
        self.files = files
        transport = UnixSocketTransport.for_master(files)
        self._proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=transport)

    @property
    def supervisor(self) -> Any:
        return self._proxy.supervisor

    def is_running(self) -> bool:
        """True when a supervisord answers on the socket and is not shutting down."""
        if not self.files.socket.exists():
            return False
        try:
            return self.supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def processes(self) -> list[dict[str, Any]]:
        return list(self.supervisor.getAllProcessInfo())

    def pid(self) -> int:
        return int(self.supervisor.getPID())

