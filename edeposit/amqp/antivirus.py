"""The old `edeposit.amqp.antivirus`: the structures of the antivirus daemon, under their old names."""

from __future__ import annotations

from daemons.antivirus.handler import DatabaseUpdated, ScanFile, ScanResult, UpdateDatabase

__all__ = [
    "DatabaseUpdated", "ScanFile", "ScanResult", "UpdateDatabase",
]
