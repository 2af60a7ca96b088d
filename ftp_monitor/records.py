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
    if value in ("-", ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise MalformedRecord(f"{name} {value!r} is not a number") from None


def parse_edeposit(line: bytes) -> LogRecord:
    """A record of the fields in EDEPOSIT_FIELDS, tab-separated; the path is last and may hold tabs."""
    parts = _text(line).split("\t", len(EDEPOSIT_FIELDS) - 1)
    if len(parts) != len(EDEPOSIT_FIELDS):
        raise MalformedRecord(f"expected {len(EDEPOSIT_FIELDS)} tab-separated fields, got {len(parts)}")
    field = dict(zip(EDEPOSIT_FIELDS, parts, strict=True))
    if field["version"] != _TAG_TEXT:
        raise MalformedRecord(f"expected the tag {_TAG_TEXT!r} first, got {field['version'][:20]!r}")
    if not field["command"]:
        raise MalformedRecord("the command field is empty")
    transfer_status = field["transfer_status"]
    return LogRecord(
        command=field["command"].upper(),
        user=field["user"],
        path=field["path"],
        timestamp=field["time"],
        session_pid=_number(field["pid"], "session pid"),
        client_address=field["address"],
        protocol=field["protocol"],
        status=_number(field["status"], "status code"),
        bytes_transferred=_number(field["bytes"], "bytes transferred"),
        file_size=_number(field["file_size"], "file size"),
        file_modified={"true": True, "false": False}.get(field["file_modified"].lower()),
        transfer_status=transfer_status.lower() if transfer_status not in ("", "-") else None,
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
