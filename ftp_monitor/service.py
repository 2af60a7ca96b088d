"""Entry point of the ftp_monitor daemon: `handler = ftp_monitor.service:run` in its config section.

daemons.rpc.runner calls `run(settings, amqp)` in the foreground; it returns the process's exit code:
0 after SIGTERM/SIGINT, 2 for bad options, 3 when the offsets file cannot be written (a local problem
that retrying cannot fix). An exception on any thread ends the process at once with exit code 70 and
its traceback in the log: a dead publisher or watcher thread must never leave a monitor that looks
alive but publishes nothing. Unconfirmed records are simply sent again after the restart.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback

from daemons.rpc.loader import HandlerError
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from ftp_monitor.monitor import Monitor
from ftp_monitor.offsets import StateFileError
from ftp_monitor.options import OPTIONS_SPEC, load_options

__all__ = ["EXIT_BAD_OPTIONS", "EXIT_STATE_FILE", "EXIT_THREAD_DIED", "OPTIONS_SPEC", "exit_on_thread_exception",
           "run"]

EXIT_BAD_OPTIONS = 2
EXIT_STATE_FILE = 3
EXIT_THREAD_DIED = 70  # EX_SOFTWARE


def exit_on_thread_exception(log: logging.Logger) -> None:
    """Make an exception that ends any thread end the whole process, after logging its traceback."""

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        log.critical("thread %s died; stopping the process (exit %d) so that it is restarted:\n%s", name,
                     EXIT_THREAD_DIED, text.rstrip())
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_THREAD_DIED)

    threading.excepthook = hook


def run(settings: DaemonSettings, amqp: AMQPSettings) -> int:
    log = logging.getLogger(f"edeposit.{settings.name}")
    exit_on_thread_exception(log)
    try:
        options = load_options(settings)
    except HandlerError as exc:
        log.error("%s", exc)
        return EXIT_BAD_OPTIONS
    try:
        monitor = Monitor(settings, amqp, options, log)
        monitor.install_signal_handlers()
        return monitor.run()
    except StateFileError as exc:
        log.error("%s", exc)
        return EXIT_STATE_FILE
