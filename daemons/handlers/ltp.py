"""ltp: preservation export. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

ExportRequest = namedtuple("ExportRequest", "aleph_record book_uuid urn_nbn url filename b64_data")
TrackingRequest = namedtuple("TrackingRequest", "book_uuid")
TrackingResponse = namedtuple("TrackingResponse", "book_id exported error")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the preservation export back end is not available in this build")
