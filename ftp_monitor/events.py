"""What a log record means: an import (the lock file was deleted) and, when enabled, a file event.

Produces `Outgoing` messages; an import also carries the clean-up to run once the broker confirmed it.
RNFR/RNTO pairs are joined by session pid; the RNFR still waiting for its RNTO is part of the saved
state, so a restart between the two loses nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons.ftp_manager.users import SETTINGS_FLAGS, FtpUserError, PasswdFileError, home_of, load_user_settings
from daemons.rpc.wire import TAG, serialize
from ftp_monitor.importer import ImportSettings, abandon_import, finish_import, prepare_import
from ftp_monitor.pairing import PairingRules
from ftp_monitor.records import LogRecord
from ftp_monitor.structures import FileEvent

UPLOAD_COMMANDS = frozenset({"STOR", "STOU", "APPE"})
ABORTED_TRANSFERS = frozenset({"cancelled", "timeout"})
MAX_PENDING_RENAMES = 1000
# serialize() for a FileEvent (all its fields are scalars), without its per-call encoder and walk: the
# same bytes, once per record (tests/test_ftp_monitor_records.py compares the two).
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_EVENT_FIELDS = FileEvent._fields


@dataclass(frozen=True)
class Outgoing:
    """One message to publish; `after_confirm` runs once the broker confirmed it, `if_undelivered(why)` when
    the publisher gave up on it (too large, or unroutable twice)."""

    routing_key: str
    body: bytes
    message_id: str
    after_confirm: Callable[[], None] | None = None
    old_style: bool = False  # for old consumers: also carries the UUID header
    if_undelivered: Callable[[str], None] | None = None


@dataclass(frozen=True)
class MonitorRules:
    """The parts of the daemon's settings the record logic needs."""

    home_root: Path
    passwd_file: Path
    lock_filename: str
    import_key: str = "result"
    events: bool = False
    event_key: str = "event"
    defaults: ImportSettings = ImportSettings()


def encode_event(event: Any) -> bytes:
    """The JSON body of a FileEvent, byte for byte what `serialize()` makes of it."""
    plain = dict(zip(_EVENT_FIELDS, event, strict=True))
    plain[TAG] = "FileEvent"
    return _ENCODE(plain).encode("utf-8")


def upload_outcome(record: LogRecord) -> str | None:
    """uploaded / upload_aborted / upload_failed, or None for a preliminary (1xx) line."""
    if record.status is not None and 100 <= record.status < 200:
        return None
    if record.transfer_status in ABORTED_TRANSFERS or record.status == 426:
        return "upload_aborted"
    if record.path == "-" or record.transfer_status == "failed" or (record.status or 0) >= 400:
        return "upload_failed"
    return "uploaded"


def _succeeded(record: LogRecord, *codes: int) -> bool:
    return record.status is None or record.status in codes


class RecordHandler:
    def __init__(self, rules: MonitorRules, pending_renames: dict[str, str] | None = None,
                 log: logging.Logger | None = None) -> None:
        self.rules = rules
        self.pending_renames: dict[str, str] = dict(pending_renames or {})
        self.log = log or logging.getLogger("edeposit.ftp_monitor")
        self.imports = 0
        self._importing: set[str] = set()  # users whose import waits for the broker's confirm

    def handle(self, record: LogRecord, message_id: str) -> list[Outgoing]:
        event = self._event(record)
        out = [self._event_message(event, message_id)] if event is not None and self.rules.events else []
        if record.command == "DELE" and _succeeded(record, 250) and self._is_lock(record):
            imported = self._import(record.user, message_id + "-import")
            if imported is not None:
                out.append(imported)
        return out

    # -- file events -------------------------------------------------------------------------------
    def _session(self, record: LogRecord) -> str:
        return str(record.session_pid) if record.session_pid is not None else f"user:{record.user}"

    def _event(self, record: LogRecord) -> Any:
        command = record.command
        if command in UPLOAD_COMMANDS:
            outcome = upload_outcome(record)
            return None if outcome is None else self._file_event(outcome, record, record.path, None)
        if command == "DELE" and _succeeded(record, 250):
            return self._file_event("deleted", record, record.path, None)
        if command == "RNFR":
            if _succeeded(record, 350):
                self.pending_renames.pop(self._session(record), None)
                self.pending_renames[self._session(record)] = record.path
                while len(self.pending_renames) > MAX_PENDING_RENAMES:  # RNFRs whose client never sent RNTO
                    del self.pending_renames[next(iter(self.pending_renames))]
            return None
        if command == "RNTO":
            source = self.pending_renames.pop(self._session(record), None)
            if _succeeded(record, 250):
                return self._file_event("renamed", record, source, record.path)
        return None

    @staticmethod
    def _file_event(kind: str, record: LogRecord, path: str | None, new_path: str | None) -> Any:
        return FileEvent(
            event=kind, username=record.user, path=path, new_path=new_path, size=record.bytes_transferred,
            session_pid=record.session_pid, client_address=record.client_address, protocol=record.protocol,
            timestamp=record.timestamp, status=record.status,
        )

    def _event_message(self, event: Any, message_id: str) -> Outgoing:
        return Outgoing(f"{self.rules.event_key}.{event.event}", encode_event(event), message_id)

    # -- imports -----------------------------------------------------------------------------------
    def _is_lock(self, record: LogRecord) -> bool:
        lock = self.rules.lock_filename
        if Path(record.path).name != lock:
            return False
        if record.path == "/" + lock:  # logged relative to the chroot
            return True
        try:
            home = home_of(self.rules.home_root, record.user)
        except FtpUserError:
            return False
        return Path(record.path) == home / lock

    def settings_for(self, username: str) -> ImportSettings:
        """The global switches AND-ed with the user's own: a user can only switch a feature off."""
        try:
            user = load_user_settings(self.rules.passwd_file, username)
        except PasswdFileError as exc:
            self.log.error("%s; importing for %s with the global switches", exc, username)
            user = dict.fromkeys(SETTINGS_FLAGS, True)
        base = self.rules.defaults
        return ImportSettings(
            rules=PairingRules(
                same_name_dir_pairing=base.rules.same_name_dir_pairing and user["SAME_NAME_DIR_PAIRING"],
                same_dir_pairing=base.rules.same_dir_pairing and user["SAME_DIR_PAIRING"],
                isbn_pairing=base.rules.isbn_pairing and user["ISBN_PAIRING"],
            ),
            create_import_log=base.create_import_log and user["CREATE_IMPORT_LOG"],
            leave_bad_files=base.leave_bad_files and user["LEAVE_BAD_FILES"],
            max_file_bytes=base.max_file_bytes,
            max_import_bytes=base.max_import_bytes,
            lock_filename=self.rules.lock_filename,
        )

    def _import(self, username: str, message_id: str) -> Outgoing | None:
        try:
            home = home_of(self.rules.home_root, username)
        except FtpUserError as exc:
            self.log.warning("lock file deleted by %r, but %s", username, exc)
            return None
        if not home.is_dir():
            self.log.warning("lock file of %s deleted, but the home %s does not exist; no import", username, home)
            return None
        if username in self._importing:
            self.log.info("lock file of %s deleted again while its import is being published; one import", username)
            return None
        if (home / self.rules.lock_filename).exists():
            self.log.info("lock file of %s is back in place (import already done); nothing to import", username)
            return None
        prepared = prepare_import(username, home, self.settings_for(username))
        self.imports += 1
        self.log.info("import for %s: %d item(s), %d error(s)", username, len(prepared.request.requests),
                      len(prepared.errors))
        self._importing.add(username)

        def finish() -> None:
            try:
                finish_import(prepared, self.log)
            finally:
                self._importing.discard(username)

        def abandon(why: str) -> None:
            try:
                abandon_import(prepared, why, self.log)
            finally:
                self._importing.discard(username)

        return Outgoing(self.rules.import_key, serialize(prepared.request), message_id, after_confirm=finish,
                        old_style=True, if_undelivered=abandon)

