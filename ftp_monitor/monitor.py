"""The monitor's loop: read new log lines, turn them into messages, publish, wait for confirms, save.

Life of the monitor: STARTING -> FOLLOWING (reading and publishing) -> STOPPED; while the broker is away
it keeps the unconfirmed batch and sends it again after reconnecting (PUBLISH_RETRY), sending nothing
newer meanwhile, so records are neither lost nor reordered. One batch is in flight at a time; the next
is parsed while the broker confirms it. Offsets are saved only after a confirm.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from daemons.rpc.settings import AMQPSettings, DaemonSettings
from ftp_monitor import metrics
from ftp_monitor.events import Outgoing, RecordHandler
from ftp_monitor.offsets import MonitorState, OffsetStore
from ftp_monitor.options import MonitorOptions
from ftp_monitor.publisher import ConfirmingPublisher, PublishFailed, Ticket
from ftp_monitor.records import MalformedRecord, parse, split_glued
from ftp_monitor.tailer import Line, LogTailer
from ftp_monitor.watcher import LogWatcher

OFFSETS_FILE = "offsets.json"
READ_BUDGET = 1 << 20
EXIT_CONFIRM_SECONDS = 5.0
MALFORMED_LOGGED = 20


@dataclass
class _Batch:
    """Lines read, the messages they mean, the RNFRs pending after them, and the publish in progress."""

    lines: list[Line]
    outgoing: list[Outgoing]
    renames: dict[str, str]
    ticket: Ticket | None = None


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
        metrics.setup(settings.name)

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
        in_flight: _Batch | None = None
        try:
            while not self.stopping.is_set():
                self.watcher.ensure_watching()
                self.wake.clear()
                lines = self.tailer.poll(READ_BUDGET)
                if not lines and in_flight is None:
                    self.wake.wait(self.options.poll_seconds)
                    continue
                size = self.options.batch_records
                for chunk in [lines[i:i + size] for i in range(0, len(lines), size)] or [[]]:
                    # The next batch is parsed while the broker still works on the one in flight.
                    prepared = self._prepare(chunk) if chunk else None
                    if in_flight is not None and not self._settle(in_flight):
                        return 0
                    in_flight = self._send(prepared) if prepared is not None else None
                    if self.stopping.is_set():
                        break
        finally:
            if in_flight is not None:
                self._settle_before_exit(in_flight)
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

    def _prepare(self, lines: list[Line]) -> _Batch:
        outgoing = self._messages(lines)
        metrics.records_read(self.counts["records"])
        return _Batch(lines, outgoing, dict(self.handler.pending_renames))

    def _send(self, batch: _Batch) -> _Batch:
        try:
            batch.ticket = self.publisher.send(batch.outgoing, self.stopping)
        except PublishFailed:
            batch.ticket = None  # _settle() sends it again
        return batch

    def _settle(self, batch: _Batch) -> bool:
        """Wait for the batch's confirm (sending it again after a lost connection), then save; False when stopped."""
        while True:
            try:
                if batch.ticket is None:
                    batch.ticket = self.publisher.send(batch.outgoing, self.stopping)
                self.publisher.wait(batch.ticket, self.stopping)
                break
            except PublishFailed as exc:
                if self.stopping.is_set():
                    return False  # the exit path still gives a sent batch a few seconds to be confirmed
                batch.ticket = None
                self.log.warning("state following -> publish-retry: %s; %d message(s) wait for the broker", exc,
                                 len(batch.outgoing))
                self.stopping.wait(0.5)
        self._confirmed(batch)
        return True

    def _settle_before_exit(self, batch: _Batch) -> None:
        """On SIGTERM: give the batch in hand a few seconds to be confirmed, so a restart repeats less."""
        if batch.ticket is None:
            return
        try:
            self.publisher.wait(batch.ticket, None, timeout=EXIT_CONFIRM_SECONDS)
        except PublishFailed:
            self.log.info("stopping with %d unconfirmed message(s); they are sent again after the restart",
                          len(batch.outgoing))
            return
        self._confirmed(batch)

    def _confirmed(self, batch: _Batch) -> None:
        for message in batch.outgoing:
            if message.after_confirm is not None:
                self.counts["imports"] += 1
                try:
                    message.after_confirm()
                except Exception:  # a user's odd files must not stop the log
                    self.log.exception("clean-up after a confirmed import failed; the files stay in place")
        self.counts["published"] += len(batch.outgoing)
        metrics.published(batch.outgoing)
        self.tailer.commit(batch.lines)
        self.store.save(MonitorState(self.tailer.positions(), batch.renames))
