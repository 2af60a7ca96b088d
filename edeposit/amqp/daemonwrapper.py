"""The old `edeposit.amqp.daemonwrapper.DaemonRunnerWrapper`, on the old-script daemonizer (daemonize.py).

A subclass puts its work in `body()` and its clean-up in `onExit()`; `run_daemon()` acts on
`start|stop|restart [-f/--foreground]` from the command line, `run()` works in the foreground. The pidfile
is `<state_dir>/run/<name>.pid` (it was /tmp/<name>.pid), the log of a detached daemon
`<log_dir>/<name>.log`, and the master never runs a daemon of the same name at the same time.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from daemons.rpc import daemonize
from daemons.rpc.runner import setup_logging
from edeposit.amqp.settings import loaded_config
from orchestrator import ownership


class DaemonRunnerWrapper:
    def __init__(self, name: str) -> None:
        self.name = name
        self.config = loaded_config()

    @property
    def pidfile_path(self) -> Path:
        return ownership.pidfile(self.config, self.name)

    @property
    def log_path(self) -> Path:
        return self.config.orchestrator.log_dir / f"{self.name}.log"

    def body(self) -> None:
        """The daemon's work: override it. It runs until it returns (or SIGTERM makes it return)."""

    def onExit(self) -> None:
        """Called once `body()` has ended, in the foreground and in the background."""

    def isRunning(self) -> bool:
        return daemonize.running_pid(self.pidfile_path) is not None

    def _serve(self) -> int:
        if not logging.getLogger().handlers:
            setup_logging()
        try:
            self.body()
        finally:
            self.onExit()
        return 0

    def run(self) -> int:
        """Run in the foreground (with the pidfile and the owner lock, so the master will not run it too)."""
        return daemonize.start(self.name, self._serve, self.pidfile_path, self.log_path, foreground=True,
                               conflict=self._conflict)

    def run_daemon(self, argv: Sequence[str] | None = None) -> None:
        """`start|stop|restart [-f]` from the command line (`argv`, default sys.argv), then exit with its code."""
        args = daemonize.build_parser(self.name).parse_args(sys.argv[1:] if argv is None else argv)
        sys.exit(daemonize.act(self.name, args.action, self._serve, self.pidfile_path, self.log_path,
                               args.foreground, conflict=self._conflict))

    def _conflict(self) -> str | None:
        return ownership.master_holder(self.config, self.name)
