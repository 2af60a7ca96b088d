"""Entry point of the ftp_monitor daemon: `handler = ftp_monitor.service:run` in its config section.

daemons.rpc.runner calls `run(settings, amqp)` in the foreground; it returns the process's exit code
(0 after SIGTERM/SIGINT, 2 for bad options).
"""

from __future__ import annotations

import logging

from daemons.rpc.loader import HandlerError
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from ftp_monitor.monitor import Monitor
from ftp_monitor.options import OPTIONS_SPEC, load_options

__all__ = ["OPTIONS_SPEC", "run"]


def run(settings: DaemonSettings, amqp: AMQPSettings) -> int:
    log = logging.getLogger(f"edeposit.{settings.name}")
    try:
        options = load_options(settings)
    except HandlerError as exc:
        log.error("%s", exc)
        return 2
    monitor = Monitor(settings, amqp, options, log)
    monitor.install_signal_handlers()
    return monitor.run()
