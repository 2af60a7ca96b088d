"""Whether a process is alive, and who it is: the one place that asks the kernel about other pids."""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (also one we may not signal)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_running(pid: int) -> bool:
    """Like pid_alive, but a zombie (exited, not yet reaped) counts as gone.

    Note: a daemonized master's parent is init, which may take a second or more to reap it; stop-all
    waits for the master to exit, not for that.
    """
    return pid_alive(pid) and _state(pid) not in ("Z", "X", None)


def _state(pid: int) -> str | None:
    """The one-letter state of /proc/<pid>/stat (R, S, D, Z, ...), or None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def process_name(pid: int) -> str | None:
    """The kernel's short name of the process (`/proc/<pid>/comm`), or None when it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def read_pidfile(path: Path) -> int | None:
    """The pid a pidfile names, or None when the file is missing or holds no pid."""
    try:
        text = Path(path).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(text) if text.isdigit() else None


def process_command(pid: int) -> list[str] | None:
    """The command line of a process (`/proc/<pid>/cmdline`), or None when it is gone or hidden."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part] or None


def process_start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (`/proc/<pid>/stat` field 22), or None when it is
    gone. Together with the pid it names one process: a reused pid has another start time."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # Field 2 (the name) is in parentheses and may hold spaces: count fields after the last ')'.
    fields = raw[raw.rfind(b")") + 2:].split()
    try:
        return int(fields[22 - 3])
    except (IndexError, ValueError):
        return None


def same_process_alive(pid: int, start_time: int) -> bool:
    """True while the process `pid` that started at `start_time` still runs (not a later one with its pid)."""
    return pid_alive(pid) and process_start_time(pid) == start_time


def started_at(pid: int) -> float | None:
    """When the process started (seconds since the epoch, to 1/CLK_TCK), from /proc; None when it is gone."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")
