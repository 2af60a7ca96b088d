"""The old per-daemon scripts (`edeposit_amqp_<name>d.py start|stop|restart [-f]`), kept for old habits.

Each daemon gets its own pidfile, so two daemons never fight over one. Without `-f` the process
detaches with python-daemon's DaemonContext and logs to a file; with `-f` it stays in the foreground.

One owner per daemon: a script holds an exclusive `flock` on `<name>.owner` beside its pidfile for as
long as it runs, and each worker the master spawns holds a shared one (`claim`), so a script and the
master never run the same daemon at once, whoever comes second; the loser is told who runs it.
"""

from __future__ import annotations

import argparse
import fcntl
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
ACTIONS = ("start", "stop", "restart")

# Says who else runs the daemon right now (e.g. "run by the master (pid 12): stop it with ..."), or None.
Conflict = Callable[[], "str | None"]


class OwnedElsewhere(RuntimeError):
    """Another process runs this daemon: the text says who and how to stop it."""


def owner_path(pidfile: Path) -> Path:
    """The lock file of a daemon's owner: `<name>.owner` beside its pidfile."""
    return pidfile.with_suffix(".owner")


def claim(path: Path, exclusive: bool) -> int:
    """Take the owner lock without waiting; the returned descriptor holds it until closed (or exit).

    Note: opened read-only, so a worker that runs as another user needs only read access to a lock
    file that exists; the lock survives the fork into the background (the descriptor is preserved).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OwnedElsewhere(f"another process holds {path}") from None
    return fd


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


def _refuse(name: str, reason: str) -> int:
    print(f"{name}: {reason}", file=sys.stderr)
    return 1


def start(name: str, run: Callable[[], int], pidfile: Path, log_file: Path, foreground: bool,
          conflict: Conflict | None = None) -> int:
    pid = running_pid(pidfile)
    if pid is not None:
        return _refuse(name, f"already running (pid {pid}, pidfile {pidfile})")
    reason = conflict() if conflict is not None else None
    if reason:
        return _refuse(name, reason)
    try:
        owner = claim(owner_path(pidfile), exclusive=True)
    except OwnedElsewhere as exc:
        return _refuse(name, (conflict() if conflict is not None else None) or f"being started elsewhere: {exc}")
    try:
        return _start_owned(name, run, pidfile, log_file, foreground, owner)
    finally:
        os.close(owner)


def _start_owned(name: str, run: Callable[[], int], pidfile: Path, log_file: Path, foreground: bool,
                 owner: int) -> int:
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    lock = TimeoutPIDLockFile(str(pidfile), acquire_timeout=0)
    if foreground:
        try:
            lock.acquire()
        except lockfile.AlreadyLocked:
            return _refuse(name, f"already running (pidfile {pidfile} is locked)")
        try:
            return run()
        finally:
            lock.release()
    print(f"{name}: starting in the background; log: {log_file}")
    sys.stdout.flush()
    with open(log_file, "ab", buffering=0) as log:
        context = daemon.DaemonContext(pidfile=lock, stdout=log, stderr=log, umask=0o022,
                                       working_directory="/", files_preserve=[owner])
        try:
            with context:
                return run()
        except lockfile.AlreadyLocked:
            return _refuse(name, f"already running (pidfile {pidfile} is locked)")


def build_parser(name: str, action_required: bool = True) -> argparse.ArgumentParser:
    """`start|stop|restart [-f]`; a script with options of its own adds them to this parser."""
    parser = argparse.ArgumentParser(prog=Path(sys.argv[0]).name, description=f"Start or stop the {name} daemon.")
    parser.add_argument("action", choices=ACTIONS, nargs=None if action_required else "?",
                        help="start, stop or restart the daemon")
    parser.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground")
    return parser


def act(name: str, action: str, run: Callable[[], int], pidfile: Path, log_file: Path, foreground: bool,
        conflict: Conflict | None = None) -> int:
    if action in ("stop", "restart"):
        code = stop(name, pidfile)
        if action == "stop" or code != 0:
            return code
    return start(name, run, pidfile, log_file, foreground, conflict)


def main(name: str, run: Callable[[], int], pidfile: Path, log_file: Path, argv: Sequence[str] | None = None,
         conflict: Conflict | None = None) -> int:
    args = build_parser(name).parse_args(argv)
    return act(name, args.action, run, pidfile, log_file, args.foreground, conflict)
