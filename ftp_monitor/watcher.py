"""Wakes the monitor when anything happens in the log's directory (watchdog/inotify).

Events are only a hint: the monitor also polls every `poll_seconds`, so a lost event or a directory
that cannot be watched (yet) only delays reading, never skips it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer


class _Wake(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def on_any_event(self, event: Any) -> None:
        self.wake.set()


class LogWatcher:
    def __init__(self, log_file: Path, wake: threading.Event, log: logging.Logger | None = None) -> None:
        self.directory = Path(log_file).parent
        self.wake = wake
        self.log = log or logging.getLogger("edeposit.ftp_monitor")
        self._observer: Any = None
        self._warned = False

    def ensure_watching(self) -> None:
        """Start watching once the directory exists; cheap to call on every poll."""
        if self._observer is not None and self._observer.is_alive():
            return
        if not self.directory.is_dir():
            return
        observer = Observer()
        try:
            observer.schedule(_Wake(self.wake), str(self.directory), recursive=False)
            observer.start()
        except OSError as exc:
            if not self._warned:
                self._warned = True
                self.log.warning("cannot watch %s (%s); polling only", self.directory, exc)
            return
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
