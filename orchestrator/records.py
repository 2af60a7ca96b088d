"""What the event listener remembers about each daemon between its lives, kept as JSON under state_dir.

The listener is the only writer of the records; the CLI only reads them, and removes a daemon's
crash-loop mark (a separate file) when the user starts the daemon again.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from daemons.common.atomic import write_atomically


@dataclass
class DaemonRecord:
    """One daemon's history in the current master's life."""

    name: str
    restarts: int = 0
    exit_status: int | None = None
    last_error: str | None = None
    crashes: list[float] = field(default_factory=list)
    # Size of each worker's log when it last (re)started: its exit reason is searched after that point.
    log_offsets: dict[str, int] = field(default_factory=dict)


class RecordStore:
    """`<state_dir>/events/<name>.json` plus `<name>.crashloop` holding the reason a daemon was stopped."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str, suffix: str) -> Path:
        return self.directory / f"{name}{suffix}"

    def load(self, name: str) -> DaemonRecord:
        try:
            data = json.loads(self._path(name, ".json").read_text())
        except (OSError, ValueError):
            return DaemonRecord(name)
        known = {key: data[key] for key in DaemonRecord.__dataclass_fields__ if key in data}
        return DaemonRecord(**{**known, "name": name})

    def save(self, record: DaemonRecord) -> None:
        self._write(self._path(record.name, ".json"), json.dumps(asdict(record), indent=1))

    def crash_loop(self, name: str) -> str | None:
        """The reason the daemon was stopped for crash-looping, or None."""
        try:
            return self._path(name, ".crashloop").read_text().strip() or None
        except OSError:
            return None

    def mark_crash_loop(self, name: str, reason: str) -> None:
        self._write(self._path(name, ".crashloop"), reason + "\n")

    def clear_crash_loop(self, name: str) -> None:
        self._path(name, ".crashloop").unlink(missing_ok=True)

    def forget(self, name: str) -> None:
        self._path(name, ".json").unlink(missing_ok=True)
        self.clear_crash_loop(name)

    def reset(self) -> None:
        """A new master starts with a clean history."""
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, text: str) -> None:
        """Write-then-rename, so a reader never sees half a file."""
        write_atomically(path, text, mode=0o600, durable=False)
