"""What ftp_monitor counts for the master's metrics endpoint; see daemons/rpc/metrics.py for the mechanism.

Bytes behind the end of the log are not counted here: the exporter works them out at each scrape from
the saved (confirmed) offsets and the log's size, so they stay true while the monitor is stuck or down.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from daemons.rpc.metrics import enabled, process_label


class MonitorMetrics:
    def __init__(self, daemon: str) -> None:
        from prometheus_client import Counter, Gauge

        me = {"daemon": daemon, "process": process_label(daemon)}
        names = list(me)
        self.records = Counter("edeposit_ftp_monitor_records_read", "ExtendedLog records read and parsed",
                               names).labels(**me)
        self.imports = Counter("edeposit_ftp_monitor_imports_published", "Import requests the broker confirmed",
                               names).labels(**me)
        self.events = Counter("edeposit_ftp_monitor_events_published", "Upload/delete/rename events confirmed",
                              names).labels(**me)
        self.last_record = Gauge("edeposit_ftp_monitor_last_record_timestamp_seconds",
                                 "Unix time the last record was read", names, multiprocess_mode="max").labels(**me)
        self.seen = 0


_sink: MonitorMetrics | None = None


def setup(daemon: str) -> None:
    global _sink
    if enabled():
        _sink = MonitorMetrics(daemon)


def records_read(total: int) -> None:
    """Once per batch, with the monitor's running total: one counter update, not one per record."""
    if _sink is not None and total > _sink.seen:
        _sink.records.inc(total - _sink.seen)
        _sink.seen = total
        _sink.last_record.set(time.time())


def published(messages: Sequence[Any]) -> None:
    """A batch was confirmed: imports are the messages with an `after_confirm` step, the rest are events."""
    if _sink is not None:
        imports = sum(1 for message in messages if message.after_confirm is not None)
        _sink.imports.inc(imports)
        _sink.events.inc(len(messages) - imports)
