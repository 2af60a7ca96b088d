"""The monitor's loop: read new log lines, turn them into messages, publish, wait for confirms, save.

Life of the monitor: STARTING -> FOLLOWING (reading and publishing) -> STOPPED; while the broker is away
it keeps the unconfirmed batch and sends it again after reconnecting (PUBLISH_RETRY), reading nothing
new meanwhile, so records are neither lost nor reordered. Offsets are saved only after a confirm.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections import Counter
from typing import Any

from daemons.settings import AMQPSettings, DaemonSettings
from ftp_monitor.events import Outgoing, RecordHandler
from ftp_monitor.offsets import MonitorState, OffsetStore
from ftp_monitor.options import MonitorOptions
from ftp_monitor.publisher import ConfirmingPublisher, PublishFailed
from ftp_monitor.records import MalformedRecord, parse, split_glued
from ftp_monitor.tailer import Line, LogTailer
from ftp_monitor.watcher import LogWatcher

OFFSETS_FILE = "offsets.json"
READ_BUDGET = 1 << 20
MALFORMED_LOGGED = 20


def message_id(line: Line, piece_index: int, piece: bytes) -> str:
    """Stable across restarts: the same record at the same place always gets the same id."""
    digest = hashlib.sha256(f"{line.source.device}:{line.source.inode}:{line.start}:{piece_index}:".encode())
    digest.update(piece)
    return digest.hexdigest()[:32]


class Monitor:
    def __init__(self, settings: DaemonSettings, amqp: AMQPSettings, options: MonitorOptions,
                 log: logging.Logger | None = None) -> None:
        self.settings = settings
        self.options = options
        self.log = log or logging.getLogger(f"edeposit.{settings.name}")
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.counts: Counter[str] = Counter()
        self.store = OffsetStore(settings.data_dir / OFFSETS_FILE, self.log)
        saved = self.store.load()
        self.tailer = LogTailer(options.log_file, saved.files if saved else None, options.rotated_quiet_seconds,
                                start_at_end=options.start_at_end, log=self.log)
        self.handler = RecordHandler(options.rules, saved.pending_renames if saved else None, self.log)
        self.publisher = ConfirmingPublisher(amqp, settings, options.event_bindings, self.log)
        self.watcher = LogWatcher(options.log_file, self.wake, self.log)

    def stop(self, *_: Any) -> None:
        """Finish the batch in hand (if the broker confirms it) and exit; safe from a signal handler."""
        self.stopping.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> int:
        self.log.info("state starting -> following (%s, format %s, events %s)", self.options.log_file,
                      self.options.log_format, "on" if self.options.events else "off")
        self.publisher.start()
        try:
            while not self.stopping.is_set():
                self.watcher.ensure_watching()
                self.wake.clear()
                lines = self.tailer.poll(READ_BUDGET)
                if not lines:
                    self.wake.wait(self.options.poll_seconds)
                    continue
                for start in range(0, len(lines), self.options.batch_records):
                    if self.stopping.is_set() or not self._process(lines[start:start + self.options.batch_records]):
                        return 0
        finally:
            self.publisher.close()
            self.watcher.stop()
            self.tailer.close()
            self.log.info("state following -> stopped; %s", self._summary())
        return 0

    def _summary(self) -> str:
        keys = ("records", "malformed", "failed", "published", "imports")
        return ", ".join(f"{key} {self.counts[key]}" for key in keys)

    def _messages(self, lines: list[Line]) -> list[Outgoing]:
        outgoing: list[Outgoing] = []
        log_format = self.options.log_format
        for line in lines:
            pieces = split_glued(line.data, log_format)
            for index, piece in enumerate(pieces):
                if index < len(pieces) - 1:
                    self._malformed(line, "record cut by ProFTPD (path too long)", piece)
                    continue
                try:
                    record = parse(piece, log_format)
                except MalformedRecord as exc:
                    self._malformed(line, str(exc), piece)
                    continue
                self.counts["records"] += 1
                try:
                    outgoing += self.handler.handle(record, message_id(line, index, piece))
                except Exception:  # one record's trouble (e.g. an unreadable home) must not stop the log
                    self.counts["failed"] += 1
                    self.log.exception("record at byte %d of %s could not be handled; skipped: %r", line.start,
                                       line.source.path, piece[:200])
        return outgoing

    def _malformed(self, line: Line, why: str, piece: bytes) -> None:
        """Count it; log the first ones in full, then every 1000th, so a wrong LogFormat cannot flood the log."""
        self.counts["malformed"] += 1
        count = self.counts["malformed"]
        if count <= MALFORMED_LOGGED or count % 1000 == 0:
            self.log.warning("malformed record at byte %d of %s (%s), skipped (%d so far): %r", line.start,
                             line.source.path, why, count, piece[:200])

    def _process(self, lines: list[Line]) -> bool:
        """Publish what the lines mean and save the new offsets; False when stopped before the confirm."""
        outgoing = self._messages(lines)
        if not self._publish_confirmed(outgoing):
            return False
        for message in outgoing:
            if message.after_confirm is not None:
                self.counts["imports"] += 1
                try:
                    message.after_confirm()
                except Exception:  # a user's odd files must not stop the log
                    self.log.exception("clean-up after a confirmed import failed; the files stay in place")
        self.counts["published"] += len(outgoing)
        self.tailer.commit(lines)
        self.store.save(MonitorState(self.tailer.positions(), dict(self.handler.pending_renames)))
        return True

    def _publish_confirmed(self, outgoing: list[Outgoing]) -> bool:
        while True:
            try:
                self.publisher.publish(outgoing, self.stopping)
                return True
            except PublishFailed as exc:
                if self.stopping.is_set():
                    self.log.info("stopping with %d unconfirmed message(s); they are sent again after the restart",
                                  len(outgoing))
                    return False
                self.log.warning("state following -> publish-retry: %s; %d message(s) wait for the broker", exc,
                                 len(outgoing))
                self.stopping.wait(0.5)
