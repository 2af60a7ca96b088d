"""The old `edeposit.amqp.ltp`: the structures of the ltp daemon, under their old names."""

from __future__ import annotations

from daemons.ltp.handler import ExportRequest, TrackingRequest, TrackingResponse

__all__ = [
    "ExportRequest", "TrackingRequest", "TrackingResponse",
]
