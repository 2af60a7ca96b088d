"""Test tools for daemons and their users: a throwaway vhost and a real worker process to talk to.

    with throwaway_vhost() as vhost, running_worker(config_path, "aleph", vhost=vhost):
        ...

Everything here talks to a real broker and fails loudly when there is none.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika

from daemons.rpc.settings import AMQPSettings
from daemons.rpc.vhosts import ManagementAdmin, RabbitmqctlAdmin, VhostError, admin_for

BROKER = AMQPSettings(
    host=os.environ.get("EDEPOSIT_TEST_AMQP_HOST", "127.0.0.1"),
    port=int(os.environ.get("EDEPOSIT_TEST_AMQP_PORT", "5672")),
)


class BrokerUnavailable(RuntimeError):
    """No RabbitMQ answers where the tests expect one."""


def require_broker(settings: AMQPSettings = BROKER) -> None:
    try:
        with socket.create_connection((settings.host, settings.port), timeout=3):
            return
    except OSError as exc:
        raise BrokerUnavailable(
            f"no RabbitMQ at {settings.host}:{settings.port} ({exc}); start it with `rabbitmq-server -detached` "
            f"or run `make test`, which starts it"
        ) from exc


@functools.cache
def _admin(user: str, password: str) -> RabbitmqctlAdmin | ManagementAdmin:
    """The management API when it answers (fast), else rabbitmqctl (about a second per call)."""
    url = os.environ.get("EDEPOSIT_TEST_MANAGEMENT_URL", "http://127.0.0.1:15672")
    http = ManagementAdmin(url, user, password)
    try:
        http.list_vhosts()
        return http
    except VhostError:
        return admin_for(None, user, password)


@contextlib.contextmanager
def throwaway_vhost(prefix: str = "edeposit-test", settings: AMQPSettings = BROKER) -> Iterator[str]:
    """A fresh vhost with full rights for the test user, deleted afterwards."""
    require_broker(settings)
    admin = _admin(settings.user, settings.password)
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin.create(name, settings.user)
    try:
        yield name
    finally:
        admin.delete(name)


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll until `condition()` is truthy and return it; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


def queue_state(vhost: str, queue: str, settings: AMQPSettings = BROKER) -> tuple[int, int]:
    """(messages ready, consumers) of a queue, or (-1, -1) when it does not exist yet."""
    connection = pika.BlockingConnection(settings.parameters(vhost, name="edeposit test probe"))
    try:
        method = connection.channel().queue_declare(queue=queue, passive=True).method
        return method.message_count, method.consumer_count
    except pika.exceptions.ChannelClosedByBroker:
        return -1, -1
    finally:
        if connection.is_open:
            connection.close()


def write_config(path: Path, vhost: str, state_dir: Path, daemons: dict[str, dict[str, Any]],
                 extra: str = "", amqp: AMQPSettings = BROKER, user: str = "") -> Path:
    """An INI that points the named daemons at `vhost`; every other built-in daemon is disabled.

    `amqp` names the broker (its `host` may list several nodes); `user`: who the daemons run as under a
    root master, by default the master's own user.
    """
    from daemons.rpc.builtin import BUILTIN_DAEMONS

    lines = ["[amqp]", f"host = {amqp.host}", f"port = {amqp.port}", "heartbeat = 10",
             "reconnect_max_delay = 2", "[orchestrator]", f"state_dir = {state_dir}", f"user = {user}", extra,
             "[daemons]"]
    for name in BUILTIN_DAEMONS:
        if name not in daemons:
            lines += [f"  [[{name}]]", "  enabled = false"]
    for name, keys in daemons.items():
        lines.append(f"  [[{name}]]")
        lines.append(f"  vhost = {vhost}")
        options = keys.get("options", {})
        lines += [f"  {k} = {v}" for k, v in keys.items() if k != "options"]
        if options:
            lines.append("    [[[options]]]")
            lines += [f"    {k} = {v}" for k, v in options.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class WorkerProcess:
    """`edeposit-amqpd worker NAME` as a real child process."""

    def __init__(self, config: Path, name: str, log: Path, env: dict[str, str] | None = None,
                 log_level: str = "DEBUG") -> None:
        self.config = config
        self.name = name
        self.log_path = log
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "-c", str(config), "worker", name, "--log-level", log_level],
            stdout=self._log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_consuming(self, timeout: float = 20.0) -> None:
        def consuming() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()}")
            return "state connecting -> consuming" in self.log() or "state reconnecting -> consuming" in self.log()

        wait_for(consuming, timeout, what=f"worker {self.name} to consume")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@contextlib.contextmanager
def running_worker(config: Path, name: str, log: Path, env: dict[str, str] | None = None) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(config, name, log, env)
    try:
        worker.wait_consuming()
        yield worker
    finally:
        worker.stop()


def publish(vhost: str, exchange: str, routing_key: str, body: bytes, headers: dict[str, Any] | None = None,
            settings: AMQPSettings = BROKER, **properties: Any) -> None:
    """Publish one request as an old client would (persistent, confirmed)."""
    connection = pika.BlockingConnection(settings.parameters(vhost, name="edeposit test publisher"))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, body,
                              pika.BasicProperties(headers=headers, delivery_mode=2, **properties))
    finally:
        connection.close()


def read_messages(vhost: str, queue: str, count: int, timeout: float = 20.0,
                  settings: AMQPSettings = BROKER) -> list[tuple[Any, pika.BasicProperties, bytes]]:
    """Take `count` messages off a queue (acking them), waiting up to `timeout` seconds in all."""
    connection = pika.BlockingConnection(settings.parameters(vhost, name="edeposit test reader"))
    got: list[tuple[Any, pika.BasicProperties, bytes]] = []
    try:
        channel = connection.channel()
        deadline = time.monotonic() + timeout
        while len(got) < count:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is not None:
                got.append((method, properties, body))
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"got {len(got)} of {count} messages from {queue!r} in {timeout} s")
            connection.sleep(0.02)
        return got
    finally:
        connection.close()


def purge(vhost: str, *queues: str, settings: AMQPSettings = BROKER) -> None:
    """Empty queues so a test reads only what it caused."""
    connection = pika.BlockingConnection(settings.parameters(vhost, name="edeposit test purge"))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_purge(queue)
    finally:
        connection.close()


@contextlib.contextmanager
def bound_queue(vhost: str, exchange: str, routing_key: str, settings: AMQPSettings = BROKER) -> Iterator[str]:
    """A temporary queue bound to `exchange` with `routing_key`, for watching what a daemon publishes."""
    name = f"watch-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(settings.parameters(vhost, name="edeposit test watcher"))
    try:
        channel = connection.channel()
        channel.queue_declare(name, auto_delete=False)
        channel.queue_bind(name, exchange, routing_key)
        yield name
    finally:
        if connection.is_open:
            connection.channel().queue_delete(name)
            connection.close()
