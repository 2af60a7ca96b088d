"""supervisord event listener: records each daemon's transitions and stops a daemon that crash-loops.

Run by supervisord as `python -m orchestrator.listener --state-dir DIR --log-dir DIR --crash-limit N
--crash-window S`.
It speaks supervisord's eventlistener protocol on stdin/stdout and logs to stderr.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from orchestrator import last_error
from orchestrator.control import MASTER_PROGRAMS, MasterFiles, UnixSocketTransport
from orchestrator.crashloop import CrashWindow
from orchestrator.records import DaemonRecord, RecordStore

log = logging.getLogger("edeposit.listener")
AUTOMATIC_RESTART_FROM = ("EXITED", "BACKOFF")


def _die_with_parent() -> None:
    """Ask Linux to TERM us when supervisord dies (like the workers do, without importing their stack)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        raise SystemExit("supervisord is gone; exiting")


def _log_size(path: str | None) -> int:
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


class Watcher:
    """Turns PROCESS_STATE events into records; `rpc` is supervisord's `supervisor` XML-RPC namespace."""

    def __init__(self, store: RecordStore, crash_window: CrashWindow, rpc: Any, master_log: Path,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.crash_window = crash_window
        self.rpc = rpc
        self.master_log = master_log
        self.clock = clock

    def handle(self, event: str, payload: dict[str, str]) -> None:
        group = payload.get("groupname", "")
        process = payload.get("processname", "")
        if not event.startswith("PROCESS_STATE_") or not group or group in MASTER_PROGRAMS:
            return
        state = event.removeprefix("PROCESS_STATE_")
        from_state = payload.get("from_state", "")
        record = self.store.load(group)
        if state == "STARTING":
            self._starting(record, process, from_state)
        elif state in ("EXITED", "BACKOFF"):
            self._ended(record, process)
        elif state == "FATAL" and not record.last_error:
            record.last_error = self._info(group, process).get("spawnerr") or "could not be started"
        elif state == "STOPPED":
            record.log_offsets[process] = _log_size(self._info(group, process).get("stdout_logfile"))
        self.store.save(record)

    def _info(self, group: str, process: str) -> dict[str, Any]:
        try:
            return dict(self.rpc.getProcessInfo(f"{group}:{process}"))
        except (OSError, xmlrpc.client.Error) as exc:
            # SHUTDOWN_STATE: the master is stopping; BAD_NAME: reload removed the daemon. Nothing to record.
            if "SHUTDOWN_STATE" not in str(exc) and "BAD_NAME" not in str(exc):
                log.warning("cannot read the state of %s:%s: %s", group, process, exc)
            return {}

    def _starting(self, record: DaemonRecord, process: str, from_state: str) -> None:
        if from_state in AUTOMATIC_RESTART_FROM:
            record.restarts += 1
            if self.store.crash_loop(record.name):
                # supervisord respawned it before the stop took effect: stop it again.
                self._stop(record.name)
        else:
            # Started by hand (start, restart, reload): an old crash streak no longer counts.
            record.crashes = []

    def _ended(self, record: DaemonRecord, process: str) -> None:
        info = self._info(record.name, process)
        offset = record.log_offsets.get(process, 0)
        logfile = info.get("stdout_logfile")
        worker_text = last_error.read_since(logfile, offset) if logfile else ""
        description = last_error.exit_description(last_error.read_since(self.master_log), process)
        record.exit_status = last_error.exit_status(description)
        if record.exit_status is None and isinstance(info.get("exitstatus"), int):
            record.exit_status = info["exitstatus"]
        record.last_error = last_error.reason(worker_text, description, info.get("spawnerr"))
        record.log_offsets[process] = _log_size(logfile)
        record.crashes = self.crash_window.add(record.crashes, self.clock())
        log.info("%s ended (%s); crashes in window: %d", process, record.last_error, len(record.crashes))
        if self.crash_window.is_looping(record.crashes) and not self.store.crash_loop(record.name):
            reason = self.crash_window.reason(record.crashes, record.last_error)
            log.error("%s: %s", record.name, reason)
            self.store.mark_crash_loop(record.name, reason)
            self._stop(record.name)

    def _stop(self, group: str) -> None:
        try:
            self.rpc.stopProcessGroup(group, False)
        except (OSError, xmlrpc.client.Error) as exc:
            log.warning("cannot stop %s: %s", group, exc)


def parse_tokens(line: str) -> dict[str, str]:
    """supervisord's `key:value key:value` header lines."""
    return dict(token.split(":", 1) for token in line.split() if ":" in token)


def serve(watcher: Watcher, stdin: TextIO, stdout: TextIO) -> None:
    """The eventlistener protocol: READY, read one event, handle it, RESULT; until stdin closes."""
    while True:
        stdout.write("READY\n")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return
        headers = parse_tokens(line)
        body = stdin.read(int(headers.get("len", 0)))
        header_line, _, _ = body.partition("\n")
        try:
            watcher.handle(headers.get("eventname", ""), parse_tokens(header_line))
        except Exception:
            log.exception("could not record event %s %r", headers.get("eventname"), header_line)
        stdout.write("RESULT 2\nOK")
        stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.listener")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--crash-limit", required=True, type=int)
    parser.add_argument("--crash-window", required=True, type=float)
    parser.add_argument("--log-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    _die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    files = MasterFiles(args.state_dir, args.log_dir)
    proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=UnixSocketTransport.for_master(files))
    rpc = proxy.supervisor
    watcher = Watcher(RecordStore(files.records), CrashWindow(args.crash_limit, args.crash_window),
                      rpc, files.master_log)
    serve(watcher, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
