"""The monitor's loop: read new log lines, turn them into messages, publish, save what was confirmed.

Life of the monitor: STARTING -> FOLLOWING (reading and publishing) -> STOPPED. Up to `WINDOW` batches
are with the publisher at once; the next one is parsed while the broker confirms the earlier ones.
Batches are confirmed in the order they were read, and only then are their offsets saved, so a crash or
a lost broker at any point repeats records (same message ids), never skips one. While the broker is
away the publisher keeps the unconfirmed batches and sends them again after reconnecting; once the
window is full the monitor reads no further, so memory stays bounded.

A local problem is not retried: an offsets file that cannot be written ends `run()` with
`StateFileError` (the service exits non-zero naming the path).
"""

from __future__ import annotations

import collections
import hashlib
import logging
import signal
import threading
import time
from collections import Counter
from typing import Any

from daemons.rpc.settings import AMQPSettings, DaemonSettings
from ftp_monitor import metrics
from ftp_monitor.events import Outgoing, RecordHandler
from ftp_monitor.offsets import MonitorState, OffsetStore
from ftp_monitor.options import MonitorOptions
from ftp_monitor.publisher import Batch, ConfirmingPublisher
from ftp_monitor.records import MalformedRecord, parse, split_glued
from ftp_monitor.tailer import Line, LogTailer
from ftp_monitor.watcher import LogWatcher

OFFSETS_FILE = "offsets.json"
READ_BUDGET = 1 << 20
WINDOW = 4
EXIT_CONFIRM_SECONDS = 5.0
MALFORMED_LOGGED = 20


class _Read:
    """What a batch came from: the lines read and the RNFRs pending after them (saved with the offsets)."""

    __slots__ = ("lines", "renames", "hooks")

    def __init__(self, lines: list[Line], renames: dict[str, str], hooks: list[int]) -> None:
        self.lines = lines
        self.renames = renames
        self.hooks = hooks  # indexes of messages with something to run after the confirm


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
                                start_at_end=options.start_at_end, log=self.log, max_line=options.max_record_bytes)
        self.handler = RecordHandler(options.rules, saved.pending_renames if saved else None, self.log)
        self.publisher = ConfirmingPublisher(amqp, settings, options.event_bindings, self.log,
                                             on_confirmed=self._on_confirmed,
                                             max_message_bytes=options.max_message_bytes,
                                             mandatory_events=bool(options.event_queue))
        self.watcher = LogWatcher(options.log_file, self.wake, self.log)
        self.in_flight: collections.deque[Batch] = collections.deque()
        metrics.setup(settings.name)

    def stop(self, *_: Any) -> None:
        """Give the batches in hand a few seconds to be confirmed and exit; safe from a signal handler."""
        self.stopping.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> int:
        self.log.info("state starting -> following (%s, format %s, events %s)", self.options.log_file,
                      self.options.log_format, "on" if self.options.events else "off")
        # Where the position is saved must be writable before anything is published.
        self.store.save(MonitorState(self.tailer.positions(), dict(self.handler.pending_renames)))
        self.publisher.start()
        clean = False
        try:
            self._follow()
            clean = True
        finally:
            if clean:
                self._settle_before_exit()
            self.publisher.close()
            self.watcher.stop()
            self.tailer.close()
            self.log.info("state following -> stopped; %s", self._summary())
        return 0

    def _follow(self) -> None:
        size = self.options.batch_records
        while not self.stopping.is_set():
            self.wake.clear()
            self._save_confirmed()
            if len(self.in_flight) >= WINDOW:
                self.wake.wait(self.options.poll_seconds)  # the publisher's confirm wakes it
                continue
            self.watcher.ensure_watching()
            lines = self.tailer.poll(READ_BUDGET)
            if not lines:
                self.wake.wait(self.options.poll_seconds)
                continue
            for start in range(0, len(lines), size):
                batch = self._prepare(lines[start:start + size])
                self.in_flight.append(batch)
                self.publisher.submit(batch)

    def _on_confirmed(self, _batch: Batch) -> None:
        """Called on the publisher's thread; the monitor's thread does the rest."""
        self.wake.set()

    def _summary(self) -> str:
        keys = ("records", "malformed", "oversize", "failed", "published", "undelivered", "imports")
        return ", ".join(f"{key} {self.counts[key]}" for key in keys)

    def _messages(self, lines: list[Line]) -> list[Outgoing]:
        outgoing: list[Outgoing] = []
        log_format = self.options.log_format
        handle = self.handler.handle
        records = 0
        for line in lines:
            if line.oversize:
                self._oversize(line)
                continue
            pieces = split_glued(line.data, log_format)
            last = len(pieces) - 1
            for index, piece in enumerate(pieces):
                if index < last:
                    self._malformed(line, "record cut by ProFTPD (path too long)", piece)
                    continue
                try:
                    record = parse(piece, log_format)
                except MalformedRecord as exc:
                    self._malformed(line, str(exc), piece)
                    continue
                records += 1
                try:
                    outgoing += handle(record, message_id(line, index, piece))
                except Exception:  # one record's trouble (e.g. an unreadable home) must not stop the log
                    self.counts["failed"] += 1
                    self.log.exception("record at byte %d of %s could not be handled; skipped: %r", line.start,
                                       line.source.path, piece[:200])
        self.counts["records"] += records
        return outgoing

    def _oversize(self, line: Line) -> None:
        self.counts["oversize"] += 1
        self.log.warning("record at byte %d of %s is %d bytes, over max_record_bytes = %d; skipped: %r...",
                         line.start, line.source.path, line.oversize, self.options.max_record_bytes, line.data[:80])

    def _malformed(self, line: Line, why: str, piece: bytes) -> None:
        """Count it; log the first ones in full, then every 1000th, so a wrong LogFormat cannot flood the log."""
        self.counts["malformed"] += 1
        count = self.counts["malformed"]
        if count <= MALFORMED_LOGGED or count % 1000 == 0:
            self.log.warning("malformed record at byte %d of %s (%s), skipped (%d so far): %r", line.start,
                             line.source.path, why, count, piece[:200])

    def _prepare(self, lines: list[Line]) -> Batch:
        outgoing = self._messages(lines)
        metrics.records_read(self.counts["records"])
        hooks = [i for i, message in enumerate(outgoing) if message.after_confirm or message.if_undelivered]
        return Batch(outgoing, _Read(lines, dict(self.handler.pending_renames), hooks))

    def _save_confirmed(self) -> None:
        """Commit every batch confirmed so far, in order, then save the position once."""
        latest: _Read | None = None
        in_flight = self.in_flight
        while in_flight and in_flight[0].confirmed:
            batch = in_flight.popleft()
            latest = batch.token
            self._confirmed(batch)
        if latest is not None:
            self.store.save(MonitorState(self.tailer.positions(), latest.renames))

    def _confirmed(self, batch: Batch) -> None:
        read: _Read = batch.token
        for index in read.hooks:
            message = batch.messages[index]
            why = batch.undelivered.get(index)
            try:
                if why is None and message.after_confirm is not None:
                    self.counts["imports"] += 1
                    message.after_confirm()
                elif why is not None and message.if_undelivered is not None:
                    message.if_undelivered(why)
            except Exception:  # a user's odd files must not stop the log
                self.log.exception("clean-up after an import failed; the files stay in place")
        self.counts["published"] += len(batch.messages) - len(batch.undelivered)
        self.counts["undelivered"] += len(batch.undelivered)
        undelivered = batch.undelivered
        metrics.published([m for i, m in enumerate(batch.messages) if i not in undelivered] if undelivered
                          else batch.messages)
        self.tailer.commit(read.lines)

    def _settle_before_exit(self) -> None:
        """On SIGTERM: give the batches in hand a few seconds to be confirmed, so a restart repeats less."""
        deadline = time.monotonic() + EXIT_CONFIRM_SECONDS
        while True:
            self.wake.clear()
            self._save_confirmed()
            left = deadline - time.monotonic()
            if not self.in_flight or left <= 0:
                break
            self.wake.wait(left)
        if self.in_flight:
            self.log.info("stopping with %d unconfirmed message(s); they are sent again after the restart",
                          sum(len(batch.messages) for batch in self.in_flight))
