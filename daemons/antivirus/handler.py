"""antivirus: scans files with ClamAV and updates its signatures.

A scan goes to clamd (`clamd_socket`, INSTREAM) and, when no clamd answers there, to a `clamscan`
process (optionally with `database_dir`). The answer keeps the old shape: `ScanResult(filename, result)`
with `result` = {filename: ["FOUND", signature]} for an infected file and {} for a clean one.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

from daemons.antivirus.clamd import ClamdClient, ClamdUnavailable, Verdict
from daemons.antivirus.clamscan import DEFAULT_DATABASE_DIR, clamscan_bytes, find_program, has_signatures, run_freshclam
from daemons.rpc.handler import HandlerContext

ScanFile = namedtuple("ScanFile", "filename b64_data")
ScanResult = namedtuple("ScanResult", "filename result")
UpdateDatabase = namedtuple("UpdateDatabase", "")
DatabaseUpdated = namedtuple("DatabaseUpdated", "log")

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    ScanFile, ScanResult, UpdateDatabase, DatabaseUpdated
)

OPTIONS_SPEC = """
clamd_socket = string(default="/var/run/clamav/clamd.ctl")
clamscan = string(default="clamscan")
database_dir = string(default=None)
freshclam = string(default=None)
freshclam_config = string(default=None)
timeout = integer(min=1, default=300)
"""

log = logging.getLogger("edeposit.antivirus")


class BackendUnavailable(RuntimeError):
    """Neither clamd nor a working clamscan is available; the text says what to install or run."""


class UpdateNotConfigured(RuntimeError):
    """UpdateDatabase was asked for, but no `freshclam` option says how to update."""


class BadRequest(ValueError):
    """The message itself is unusable (e.g. b64_data that is not base64)."""


@dataclass(frozen=True)
class AntivirusSettings:
    clamd_socket: str | None = "/var/run/clamav/clamd.ctl"
    clamscan: str = "clamscan"
    database_dir: str | None = None
    freshclam: str | None = None
    freshclam_config: str | None = None
    timeout: int = 300


_settings = AntivirusSettings()


def configure(context: HandlerContext) -> None:
    """Keep the validated `[[[options]]]`; an empty `clamd_socket` means: always use clamscan."""
    global _settings, log
    options = context.options
    _settings = AntivirusSettings(
        clamd_socket=options.get("clamd_socket") or None,
        clamscan=options.get("clamscan") or "clamscan",
        database_dir=options.get("database_dir") or None,
        freshclam=options.get("freshclam") or None,
        freshclam_config=options.get("freshclam_config") or None,
        timeout=int(options.get("timeout") or 300),
    )
    log = context.log


def _clamd() -> ClamdClient | None:
    return ClamdClient(_settings.clamd_socket, _settings.timeout) if _settings.clamd_socket else None


def _clamd_state() -> str:
    if _settings.clamd_socket is None:
        return "clamd is not used (clamd_socket is empty)"
    return f"clamd does not answer on {_settings.clamd_socket} (apt-get install clamav-daemon, or set clamd_socket)"


def _clamscan_problem() -> str | None:
    """Why clamscan cannot scan, or None when it can."""
    if find_program(_settings.clamscan) is None:
        return f"{_settings.clamscan} not found: apt-get install clamav; {_clamd_state()}"
    if not has_signatures(_settings.database_dir):
        where = _settings.database_dir or DEFAULT_DATABASE_DIR
        return (f"no ClamAV signature database in {where}: run freshclam (apt-get install clamav-freshclam) "
                f"or set database_dir; {_clamd_state()}")
    return None


def health() -> str | None:
    """None when clamd answers or clamscan can scan; otherwise what is missing and how to fix it."""
    clamd = _clamd()
    if clamd is not None and clamd.ping():
        return None
    return _clamscan_problem()


def _decode(b64_data: Any) -> bytes:
    if not isinstance(b64_data, str | bytes):
        raise BadRequest(f"ScanFile.b64_data must be a base64 string, not {type(b64_data).__name__}")
    try:
        return base64.b64decode(b64_data)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"ScanFile.b64_data is not valid base64 ({exc}); send the file base64-encoded") from exc


def scan_bytes(data: bytes) -> Verdict:
    """clamd when it answers, else clamscan; BackendUnavailable when neither can scan."""
    clamd = _clamd()
    if clamd is not None:
        try:
            return clamd.scan_bytes(data)
        except ClamdUnavailable as exc:
            log.info("%s; scanning with %s instead", exc, _settings.clamscan)
    problem = _clamscan_problem()
    if problem:
        raise BackendUnavailable(problem)
    return clamscan_bytes(data, _settings.clamscan, _settings.database_dir, _settings.timeout)


def scan_file(message: ScanFile) -> ScanResult:
    verdict = scan_bytes(_decode(message.b64_data))
    result = {message.filename: ["FOUND", verdict.signature]} if verdict.infected else {}
    return ScanResult(message.filename, result)


def update_database() -> DatabaseUpdated:
    """Run freshclam, then ask clamd (if it answers) to reload the signatures in the background."""
    if _settings.freshclam is None:
        raise UpdateNotConfigured(
            "UpdateDatabase: this daemon has no `freshclam` option, so it does not update signatures; set "
            "freshclam = /usr/bin/freshclam under [daemons] [[antivirus]] [[[options]]] "
            "(apt-get install clamav-freshclam), or leave updates to the clamav-freshclam service"
        )
    if find_program(_settings.freshclam) is None:
        raise BackendUnavailable(f"{_settings.freshclam} not found: apt-get install clamav-freshclam")
    output = run_freshclam(_settings.freshclam, _settings.freshclam_config, _settings.database_dir,
                           _settings.timeout)
    clamd = _clamd()
    if clamd is not None and clamd.ping():
        output += f"\nclamd on {_settings.clamd_socket}: {clamd.command('RELOAD')}"
    return DatabaseUpdated(output)


def react(message: Any, send_back: Any) -> Any:
    if isinstance(message, ScanFile):
        return scan_file(message)
    if isinstance(message, UpdateDatabase):
        return update_database()
    raise BadRequest(f"antivirus cannot answer {type(message).__name__}; send ScanFile or UpdateDatabase")
