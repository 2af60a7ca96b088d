"""The old per-daemon scripts (`edeposit_amqp_<name>d.py start|stop|restart [-f]`), kept for old habits.

Each daemon gets its own pidfile, so two daemons never fight over one. Without `-f` the process
detaches with python-daemon's DaemonContext and logs to a file; with `-f` it stays in the foreground.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import daemon
import lockfile
from daemon.pidfile import TimeoutPIDLockFile

from daemons.common.processes import pid_alive, read_pidfile

STOP_TIMEOUT = 60.0


def running_pid(pidfile: Path) -> int | None:
    """The pid in the pidfile if that process is alive; stale pidfiles are removed."""
    pid = read_pidfile(pidfile)
    if pid is not None and not pid_alive(pid):
        pidfile.unlink(missing_ok=True)
        return None
    return pid


def stop(name: str, pidfile: Path, timeout: float = STOP_TIMEOUT) -> int:
    pid = running_pid(pidfile)
    if pid is None:
        print(f"{name}: not running (no live pid in {pidfile})")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            print(f"{name}: pid {pid} did not stop within {timeout:.0f} s after SIGTERM", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"{name}: stopped (pid {pid})")
    return 0


def start(name: str, run: Callable[[], int], pidfile: Path, log_file: Path, foreground: bool) -> int:
    pid = running_pid(pidfile)
    if pid is not None:
        print(f"{name}: already running (pid {pid}, pidfile {pidfile})", file=sys.stderr)
        return 1
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    lock = TimeoutPIDLockFile(str(pidfile), acquire_timeout=0)
    if foreground:
        try:
            lock.acquire()
        except lockfile.AlreadyLocked:
            print(f"{name}: already running (pidfile {pidfile} is locked)", file=sys.stderr)
            return 1
        try:
            return run()
        finally:
            lock.release()
    print(f"{name}: starting in the background; log: {log_file}")
    sys.stdout.flush()
    with open(log_file, "ab", buffering=0) as log:
        context = daemon.DaemonContext(pidfile=lock, stdout=log, stderr=log, umask=0o022,
                                       working_directory="/")
        try:
            with context:
                return run()
        except lockfile.AlreadyLocked:
            print(f"{name}: already running (pidfile {pidfile} is locked)", file=sys.stderr)
            return 1


def main(name: str, run: Callable[[], int], pidfile: Path, log_file: Path, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=Path(sys.argv[0]).name, description=f"Start or stop the {name} daemon.")
    parser.add_argument("action", choices=("start", "stop", "restart"))
    parser.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground")
    args = parser.parse_args(argv)
    if args.action in ("stop", "restart"):
        code = stop(name, pidfile)
        if args.action == "stop" or code != 0:
            return code
    return start(name, run, pidfile, log_file, args.foreground)
