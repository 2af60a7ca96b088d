"""Turns raw ExtendedLog lines into `LogRecord`s, for both the edeposit and the legacy log format.

A line is bytes without its newline. Anything that does not parse raises `MalformedRecord`; the caller
logs and counts it and goes on, so one bad line never blocks the log.
"""

from __future__ import annotations

from typing import NamedTuple

from ftp_monitor.proftpd_config import EDEPOSIT_FIELDS

EDEPOSIT_TAG = b"edeposit1"
_TAG_TEXT = EDEPOSIT_TAG.decode()
# ProFTPD 1.3.8 formats a record into a buffer of PATH_MAX + 128 bytes; a longer record is cut to this many
# bytes and loses its newline, so the next record continues on the same line.
CUT_LENGTH = 4223
_CUT_SLACK = 8  # the tag of a glued record is looked for this close to CUT_LENGTH
FORMATS = ("edeposit", "legacy")


class MalformedRecord(ValueError):
    """A line that is not a record of the configured format; the text says why."""


class LogRecord(NamedTuple):
    """One ProFTPD log record; fields the format does not carry are None (a NamedTuple: cheap to build)."""

    command: str
    user: str
    path: str
    timestamp: str
    session_pid: int | None = None
    client_address: str | None = None
    protocol: str | None = None
    status: int | None = None
    bytes_transferred: int | None = None
    file_size: int | None = None
    file_modified: bool | None = None
    transfer_status: str | None = None


def split_glued(line: bytes, log_format: str) -> list[bytes]:
    """The records of one line: usually one; more when ProFTPD cut a long record and glued on the next."""
    pieces: list[bytes] = []
    rest = line
    while len(rest) > CUT_LENGTH - _CUT_SLACK:
        cut = _cut_position(rest, log_format)
        if cut is None:
            break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces


def _cut_position(line: bytes, log_format: str) -> int | None:
    if log_format == "edeposit":
        tag = EDEPOSIT_TAG + b"\t"
        found = line.find(tag, CUT_LENGTH - _CUT_SLACK, CUT_LENGTH + _CUT_SLACK + len(tag))
        return found if found > 0 else None
    # The legacy format has no tag: a line longer than any complete record starts with a cut one.
    return CUT_LENGTH if len(line) > CUT_LENGTH else None


def parse(line: bytes, log_format: str) -> LogRecord:
    if log_format == "edeposit":
        return parse_edeposit(line)
    if log_format == "legacy":
        return parse_legacy(line)
    raise ValueError(f"log_format {log_format!r} is not known; use one of: {', '.join(FORMATS)}")


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRecord(f"not UTF-8 at byte {exc.start}") from None


def _number(value: str, name: str) -> int | None:
    if value.isdecimal():  # the usual case, without the exception machinery
        return int(value)
    if value in ("-", ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise MalformedRecord(f"{name} {value!r} is not a number") from None


# Where each field sits in a record, taken from EDEPOSIT_FIELDS so the two cannot drift apart.
(_VERSION, _TIME, _PID, _USER, _ADDRESS, _PROTOCOL, _COMMAND, _STATUS, _BYTES, _FILE_SIZE, _FILE_MODIFIED,
 _TRANSFER_STATUS, _PATH) = (EDEPOSIT_FIELDS.index(name) for name in (
    "version", "time", "pid", "user", "address", "protocol", "command", "status", "bytes", "file_size",
    "file_modified", "transfer_status", "path"))
_FIELD_COUNT = len(EDEPOSIT_FIELDS)
_FILE_MODIFIED_VALUES = {"true": True, "false": False}


def parse_edeposit(line: bytes) -> LogRecord:
    """A record of the fields in EDEPOSIT_FIELDS, tab-separated; the path is last and may hold tabs."""
    parts = _text(line).split("\t", _FIELD_COUNT - 1)
    if len(parts) != _FIELD_COUNT:
        raise MalformedRecord(f"expected {_FIELD_COUNT} tab-separated fields, got {len(parts)}")
    if parts[_VERSION] != _TAG_TEXT:
        raise MalformedRecord(f"expected the tag {_TAG_TEXT!r} first, got {parts[_VERSION][:20]!r}")
    command = parts[_COMMAND]
    if not command:
        raise MalformedRecord("the command field is empty")
    transfer_status = parts[_TRANSFER_STATUS]
    return LogRecord(
        command.upper(),
        parts[_USER],
        parts[_PATH],
        parts[_TIME],
        _number(parts[_PID], "session pid"),
        parts[_ADDRESS],
        parts[_PROTOCOL],
        _number(parts[_STATUS], "status code"),
        _number(parts[_BYTES], "bytes transferred"),
        _number(parts[_FILE_SIZE], "file size"),
        _FILE_MODIFIED_VALUES.get(parts[_FILE_MODIFIED].lower()),
        transfer_status.lower() if transfer_status not in ("", "-") else None,
    )


def parse_legacy(line: bytes) -> LogRecord:
    """The old `"%f, %u, %m, %{%s}t"`: path, user, command, epoch seconds (the path may hold ", ")."""
    parts = _text(line).rsplit(", ", 3)
    if len(parts) != 4:
        raise MalformedRecord("expected 'path, user, command, epoch seconds'")
    path, user, command, epoch = parts
    if not epoch.isdigit():
        raise MalformedRecord(f"epoch seconds {epoch!r} is not a number")
    if not command or not user:
        raise MalformedRecord("user or command is empty")
    return LogRecord(command=command.upper(), user=user, path=path, timestamp=epoch)
