"""Finds why a worker died: the exception line of its last traceback, or how supervisord saw it end."""

from __future__ import annotations

import re
from pathlib import Path

TAIL_BYTES = 64 * 1024
_EXIT_LINE = re.compile(r"(?:exited|stopped): (?P<process>\S+) \((?P<how>[^;()]*(?:\([^)]*\))?)")


def read_since(path: Path | str, offset: int = 0, limit: int = TAIL_BYTES) -> str:
    """The text a log gained after `offset` (all of it when the log was rotated), at most `limit` bytes."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            start = offset if 0 <= offset <= size else 0
            handle.seek(max(start, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def exception_line(log_text: str) -> str | None:
    """The line naming the exception of the last Python traceback in `log_text`, or None."""
    lines = log_text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
    if not starts:
        return None
    for line in lines[starts[-1] + 1:]:
        if line.strip() and not line[0].isspace():
            return line.strip()
    return None


def last_line(log_text: str) -> str | None:
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    return lines[-1] if lines else None


def exit_description(master_log_text: str, process: str) -> str | None:
    """How supervisord logged the last end of `process`: "exit status 1", "terminated by SIGKILL", ..."""
    found = None
    for match in _EXIT_LINE.finditer(master_log_text):
        if match.group("process") == process:
            found = match.group("how").strip()
    return found


def exit_status(description: str | None) -> int | None:
    """The exit code in "exit status N"; -1 for a signal (as supervisord reports it); None if unknown."""
    if not description:
        return None
    match = re.match(r"exit status (\d+)", description)
    if match:
        return int(match.group(1))
    return -1 if description.startswith("terminated by") else None


def reason(worker_log_text: str, description: str | None, spawn_error: str | None = None) -> str:
    """One line for `last_error`: a signal says itself; an exit with a code is explained by the traceback."""
    if description and description.startswith("terminated by"):
        return description
    if description == "exit status 0":
        return "exited by itself with status 0"
    found = exception_line(worker_log_text) or last_line(worker_log_text)
    if found:
        return found
    return description or spawn_error or "ended for an unknown reason"
