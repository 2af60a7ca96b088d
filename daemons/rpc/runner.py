"""Runs one daemon in the foreground: what `edeposit-amqpd worker NAME` and the old scripts call."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from daemons.rpc import health, logs, metrics, process_env
from daemons.rpc.loader import import_service, load_handler
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from daemons.rpc.worker import EXIT_LOCAL_ERROR, LocalError, SessionLost, Worker

EXIT_WITH_PARENT_ENV = "EDEPOSIT_AMQPD_EXIT_WITH_PARENT"


def setup_logging(level: str | int = "INFO", log_format: str = "text", daemon: str | None = None) -> None:
    """Text or JSON lines on stderr, each naming the request in hand (daemons/rpc/logs.py)."""
    logs.setup(level, log_format, daemon)


def exit_with_parent() -> None:
    """Ask Linux to TERM this process when its parent dies, so no worker outlives its master.

    Note: if the parent is already gone (we were re-parented), exit at once instead.
    """
    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        raise SystemExit("parent process is gone; exiting")


class LatePublisher:
    """Lets `configure()` keep a publish function before the worker that backs it exists."""

    def __init__(self) -> None:
        self.target: Callable[..., None] | None = None

    def __call__(self, value: Any, routing_key: str | None = None, **more: Any) -> None:
        """`more`: the worker's `exchange` and `uuid` keywords."""
        if self.target is None:
            raise SessionLost("the worker is not connected yet")
        self.target(value, routing_key, **more)


def run(settings: DaemonSettings, amqp: AMQPSettings) -> int:
    """Load the handler and serve until stopped; the exit code for the process (docs/operations.rst).

    A file or directory the worker cannot use (state dir, data dir, disk full) ends it with
    EXIT_LOCAL_ERROR and one line naming the path, which `status` shows as the last error; retrying
    would not help until someone fixes it, and supervisord restarts the worker meanwhile.
    """
    log = logging.getLogger(f"edeposit.{settings.name}")
    if os.environ.get(EXIT_WITH_PARENT_ENV) == "1":
        exit_with_parent()
    try:
        return _run(settings, amqp, log)
    except (LocalError, OSError) as exc:
        log.error("stopping: %s", exc if isinstance(exc, LocalError) else f"{exc} (a local problem, not the broker)")
        return EXIT_LOCAL_ERROR


def _run(settings: DaemonSettings, amqp: AMQPSettings, log: logging.Logger) -> int:
    process_env.apply(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.is_rpc:
        # A publisher such as ftp_monitor: its callable takes the settings and runs until stopped.
        service = import_service(settings)
        log.info("starting %s (%s)", settings.name, settings.handler)
        return int(service(settings, amqp) or 0)
    metrics.setup(settings.name)
    publisher = LatePublisher()
    handler = load_handler(settings, log, publish=publisher)
    health.watch(settings, handler.hooks.health, log)
    worker = Worker(settings, amqp, handler, log)
    publisher.target = worker.publish
    worker.install_signal_handlers()
    log.info("starting %s (%s, %d structures)", settings.name, settings.handler, len(handler.registry))
    # What start-up made lives as long as the process: keep it out of every later garbage collection.
    gc.collect()
    gc.freeze()
    try:
        return worker.run()
    finally:
        handler.hooks.shutdown()
