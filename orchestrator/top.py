"""`edeposit-amqpd top`: every daemon on one screen, refreshed each second; `q` quits.

It reads what the metrics endpoint reads, in its own process (no HTTP needed): supervisord's process
states and the listener's records (as `status` does), the workers' metric files, and the broker's queue
depths (once per refresh). Requests/s and errors/s are over the last 10 seconds, p50/p99 of the
handler time over the last minute (or since top started). It fits an 80x24 terminal.
"""

from __future__ import annotations

import math
import os
import select
import sys
import termios
import time
import tty
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.config import Config
from orchestrator.status import DaemonStatus, collect

RATE_WINDOW = 10.0
QUANTILE_WINDOW = 60.0
WIDTH = 80
HEIGHT = 24


@dataclass
class Counts:
    """One daemon's cumulative numbers (all its processes added up) at one moment."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    errors_by_exception: dict[str, float] = field(default_factory=dict)


def read_counts(metrics_dir: Any) -> dict[str, Counts]:
    """The workers' counters and handler-time buckets by daemon, from their multiprocess files."""
    if not metrics_dir.is_dir():
        return {}
    from prometheus_client.multiprocess import MultiProcessCollector

    found: dict[str, Counts] = {}
    for family in MultiProcessCollector(None, str(metrics_dir)).collect():
        for sample in family.samples:
            daemon = sample.labels.get("daemon")
            if daemon is None:
                continue
            counts = found.setdefault(daemon, Counts())
            if sample.name == "edeposit_requests_total":
                counts.requests += sample.value
                if sample.labels.get("outcome") != "ok":
                    counts.errors += sample.value
                    name = sample.labels.get("exception") or sample.labels.get("outcome", "")
                    counts.errors_by_exception[name] = counts.errors_by_exception.get(name, 0.0) + sample.value
            elif sample.name == "edeposit_ftp_monitor_records_read_total":
                counts.requests += sample.value  # ftp_monitor's REQ/S: log records read
            elif sample.name == "edeposit_handler_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                counts.buckets[bound] = counts.buckets.get(bound, 0.0) + sample.value
    return found


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """As Prometheus' histogram_quantile: linear within the bucket that holds rank q; None without data."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def _minus(new: dict[float, float], old: dict[float, float]) -> dict[float, float]:
    return {bound: max(0.0, count - old.get(bound, 0.0)) for bound, count in new.items()}


@dataclass
class Row:
    status: DaemonStatus
    rate: float | None = None
    error_rate: float | None = None
    p50: float | None = None
    p99: float | None = None
    last_error: str | None = None


class History:
    """Samples of the last minute, so rates and quantiles cover a window rather than all time."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, dict[str, Counts]]] = deque()
        self.last_errors: dict[str, tuple[float, str]] = {}

    def add(self, now: float, counts: dict[str, Counts]) -> None:
        if self.samples:
            previous = self.samples[-1][1]
            for daemon, current in counts.items():
                before = previous.get(daemon, Counts()).errors_by_exception
                for name, total in current.errors_by_exception.items():
                    if total > before.get(name, 0.0):
                        self.last_errors[daemon] = (now, name)
        self.samples.append((now, counts))
        while len(self.samples) > 2 and now - self.samples[1][0] >= QUANTILE_WINDOW:
            self.samples.popleft()

    def _oldest_within(self, window: float) -> tuple[float, dict[str, Counts]]:
        now = self.samples[-1][0]
        for moment in self.samples:
            if now - moment[0] <= window + 0.5:
                return moment
        return self.samples[-1]

    def row(self, status: DaemonStatus, now: float) -> Row:
        row = Row(status)
        if len(self.samples) >= 2:
            newest_at, newest = self.samples[-1]
            current = newest.get(status.name, Counts())
            rate_at, rate_from = self._oldest_within(RATE_WINDOW)
            if newest_at > rate_at:
                before = rate_from.get(status.name, Counts())
                row.rate = max(0.0, current.requests - before.requests) / (newest_at - rate_at)
                row.error_rate = max(0.0, current.errors - before.errors) / (newest_at - rate_at)
            window = _minus(current.buckets, self.samples[0][1].get(status.name, Counts()).buckets)
            row.p50, row.p99 = quantile(0.5, window), quantile(0.99, window)
        handler_error = self.last_errors.get(status.name)
        if handler_error is not None:
            row.last_error = f"{handler_error[1]} in a request, {now - handler_error[0]:.0f} s ago"
        elif status.last_error:
            row.last_error = status.last_error
        return row


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 0.01:
        return f"{value * 1000:.1f}ms"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    return f"{value:.1f}s"


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _pid(status: DaemonStatus) -> str:
    if not status.pids:
        return "-"
    return str(status.pids[0]) + (f"+{len(status.pids) - 1}" if len(status.pids) > 1 else "")


def render(config: Config, rows: list[Row], master_pid: int | None, broker_error: str | None) -> Group:
    """One frame: a title line, the table, then the last error of each daemon that has one."""
    master = f"master pid {master_pid}" if master_pid else "master NOT RUNNING"
    title = Text(f"edeposit-amqpd top  {master}  {time.strftime('%H:%M:%S')}  (q quits)"[:WIDTH - 1], style="bold")
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), show_edge=False, header_style="bold")
    for name, width, justify in (("NAME", 17, "left"), ("STATE", 8, "left"), ("PID", 7, "right"),
                                 ("UP", 6, "right"), ("REQ/S", 5, "right"), ("ERR/S", 5, "right"),
                                 ("P50", 6, "right"), ("P99", 6, "right"), ("QUEUE", 5, "right"),
                                 ("CONS", 4, "right")):
        table.add_column(name, width=width, no_wrap=True, overflow="ellipsis", justify=justify)  # type: ignore[arg-type]
    for row in rows:
        status = row.status
        state_style = "green" if status.state == "RUNNING" else "red bold"
        table.add_row(status.name, Text(status.state, style=state_style), _pid(status), _uptime(status.uptime),
                      _rate(row.rate), Text(_rate(row.error_rate), style="red" if row.error_rate else ""),
                      _seconds(row.p50), _seconds(row.p99),
                      "-" if status.queue_depth is None else str(status.queue_depth),
                      "-" if status.consumers is None else str(status.consumers))
    room = HEIGHT - 3 - len(rows)
    notes = [f"broker: {broker_error}"] if broker_error else []
    notes += [f"{row.status.name}: {row.last_error}" for row in rows if row.last_error]
    lines = [Text(note[:WIDTH - 1], no_wrap=True, overflow="ellipsis") for note in notes[:max(0, room)]]
    return Group(title, table, *lines)


class Top:
    def __init__(self, config: Config) -> None:
        from orchestrator.exporter import QueueCache

        self.config = config
        self.history = History()
        self.queues = QueueCache(config, interval=0.9)

    def frame(self) -> Group:
        now = time.time()
        report = collect(self.config, with_queues=False)
        states, error = self.queues.get()
        for status in report.daemons:
            state = states.get(status.name)
            if state is not None:
                status.queue_depth, status.consumers = state.depth, state.consumers
        self.history.add(now, read_counts(self.config.orchestrator.metrics_dir))
        rows = [self.history.row(status, now) for status in report.daemons]
        return render(self.config, rows, report.master_pid, error)


def _keys_within(seconds: float) -> Iterable[str]:
    ready, _, _ = select.select([sys.stdin], [], [], seconds)
    if ready:
        yield os.read(sys.stdin.fileno(), 32).decode(errors="replace")


def run(config: Config, once: bool = False, interval: float = 1.0) -> int:
    top = Top(config)
    console = Console(width=WIDTH if once and not sys.stdout.isatty() else None, highlight=False)
    top.frame()  # the first sample; rates need a second one
    if once:
        time.sleep(interval)
        console.print(top.frame())
        return 0
    if not sys.stdin.isatty():
        print("top needs a terminal; use --once for a single frame", file=sys.stderr)
        return 2
    saved = termios.tcgetattr(sys.stdin)
    tty.setcbreak(sys.stdin.fileno())
    try:
        with Live(top.frame(), console=console, screen=True, auto_refresh=False) as live:
            while True:
                deadline = time.monotonic() + interval
                while (left := deadline - time.monotonic()) > 0:
                    if any("q" in keys.lower() for keys in _keys_within(left)):
                        return 0
                live.update(top.frame(), refresh=True)
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)
