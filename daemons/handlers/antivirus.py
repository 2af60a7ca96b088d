"""antivirus: ClamAV. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

ScanFile = namedtuple("ScanFile", "filename b64_data")
ScanResult = namedtuple("ScanResult", "filename result")
UpdateDatabase = namedtuple("UpdateDatabase", "")
DatabaseUpdated = namedtuple("DatabaseUpdated", "log")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the ClamAV back end is not available in this build")
