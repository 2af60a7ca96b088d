"""`edeposit-amqpd status`: each daemon's process state from supervisord, its history from the event
listener and its input queue from the broker, as a table or as the JSON list of the design."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from daemons.rpc import health
from daemons.rpc.nodes import connected_node
from daemons.rpc.settings import DaemonSettings
from orchestrator.broker_checks import BrokerUnreachable, queue_states
from orchestrator.config import Config
from orchestrator.control import EXPORTER_NAME, MasterClient, MasterFiles
from orchestrator.records import RecordStore

EXIT_OK = 0
EXIT_NOT_RUNNING = 3
# When a daemon's workers disagree, the state shown is the first of these that any worker is in.
_WORST_FIRST = ("FATAL", "BACKOFF", "EXITED", "UNKNOWN", "STOPPING", "STARTING", "STOPPED", "RUNNING")


@dataclass
class DaemonStatus:
    name: str
    state: str
    enabled: bool
    pid: int | None = None
    pids: list[int] = field(default_factory=list)
    uptime: float | None = None
    restarts: int = 0
    exit_status: int | None = None
    last_error: str | None = None
    queue_depth: int | None = None
    consumers: int | None = None
    note: str | None = None
    nodes: list[str] = field(default_factory=list)  # the broker node each running worker is connected to


@dataclass
class Report:
    daemons: list[DaemonStatus]
    master_pid: int | None
    broker_error: str | None = None
    exporter_state: str | None = None  # the metrics endpoint's supervisord state, None when metrics are off

    @property
    def all_running(self) -> bool:
        shown = [d for d in self.daemons if d.enabled]
        return self.master_pid is not None and all(d.state == "RUNNING" for d in shown)


def _combined_state(states: list[str]) -> str:
    for state in _WORST_FIRST:
        if state in states:
            return state
    return states[0] if states else "STOPPED"


def _note(settings: DaemonSettings) -> str | None:
    try:
        return settings.health_note_path.read_text().strip() or None
    except OSError:
        return None


def _daemon_status(settings: DaemonSettings, infos: list[dict[str, Any]] | None, store: RecordStore,
                   files: MasterFiles, now: float) -> DaemonStatus:
    record = store.load(settings.name)
    row = DaemonStatus(settings.name, "STOPPED", settings.enabled, restarts=record.restarts,
                       exit_status=record.exit_status, last_error=record.last_error, note=_note(settings))
    if infos is None:  # the master is down
        return row
    if not infos:
        if settings.enabled:
            row.last_error = "not known to the running master: run `edeposit-amqpd reload`"
        return row
    row.state = _combined_state([info["statename"] for info in infos])
    running = [info for info in infos if info["statename"] == "RUNNING"]
    row.pids = [info["pid"] for info in running]
    row.pid = row.pids[0] if row.pids else None
    row.nodes = [connected_node(settings.state_dir, settings.name, info["pid"], info["start"]) or "-"
                 for info in running]
    if running:
        row.uptime = round(now - max(info["start"] for info in running), 1)
    crash_loop = store.crash_loop(settings.name)
    if crash_loop and row.state not in ("RUNNING", "STARTING"):
        row.state, row.last_error = "FATAL", crash_loop
    elif row.state == "FATAL" and not row.last_error:
        row.last_error = next((info["spawnerr"] for info in infos if info.get("spawnerr")), None)
    return row


def collect(config: Config, names: Sequence[str] = (), with_queues: bool = True) -> Report:
    """The state of the named daemons (default: every enabled one)."""
    chosen = [config.daemon(name) for name in names] if names else config.enabled
    files = MasterFiles.for_config(config)
    client = MasterClient(files)
    store = RecordStore(files.records)
    master_pid = None
    by_group: dict[str, list[dict[str, Any]]] | None = None
    if client.is_running():
        master_pid = client.pid()
        by_group = {}
        for info in client.processes():
            by_group.setdefault(info["group"], []).append(info)
    if by_group is not None:
        _refresh_notes(chosen, by_group)
    now = time.time()
    rows = [
        _daemon_status(s, None if by_group is None else by_group.get(s.name, []), store, files, now)
        for s in chosen
    ]
    report = Report(rows, master_pid)
    if by_group is not None and EXPORTER_NAME in by_group:
        report.exporter_state = by_group[EXPORTER_NAME][0]["statename"]
    if with_queues:
        _add_queue_states(config, chosen, report)
    return report


def _refresh_notes(chosen: list[DaemonSettings], by_group: dict[str, list[dict[str, Any]]]) -> None:
    """Running workers recheck their notes now: a fixed problem's note is gone, a new one shown (daemons.rpc.health)."""
    notes = []
    for settings in chosen:
        workers = [info["pid"] for info in by_group.get(settings.name, []) if info["statename"] == "RUNNING"]
        if workers and settings.is_rpc:
            notes.append((settings.health_note_path, workers))
    health.refresh(notes)


def _add_queue_states(config: Config, chosen: list[DaemonSettings], report: Report) -> None:
    try:
        states = queue_states(config.amqp, [s for s in chosen if s.is_rpc])
    except BrokerUnreachable as exc:
        report.broker_error = str(exc)
        return
    for row in report.daemons:
        state = states.get(row.name)
        if state is not None:
            row.queue_depth, row.consumers = state.depth, state.consumers


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    text = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def render_table(config: Config, report: Report) -> str:
    """A readable table; errors and notes on indented lines under their daemon."""
    lines = [f"config: {config.source}"]
    credentials = MasterFiles.for_config(config).credentials
    if report.master_pid is None and credentials.exists() and not os.access(credentials, os.R_OK):
        lines.append(f"master: cannot tell: {credentials}, the control socket's credentials, is readable only by "
                     f"the master's user; run this command as that user (e.g. root)")
    elif report.master_pid is None:
        lines.append("master: not running (start it with `edeposit-amqpd start-all`)")
    else:
        lines.append(f"master: running (pid {report.master_pid})")
    if report.broker_error:
        lines.append(f"broker: {report.broker_error}")
    header = ("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "QUEUE", "CONSUMERS", "NODE")
    table = [header] + [
        (d.name if d.enabled else f"{d.name} (disabled)", d.state, ",".join(map(str, d.pids)) or "-",
         _duration(d.uptime), str(d.restarts), _value(d.queue_depth), _value(d.consumers),
         ",".join(sorted(set(d.nodes))) or "-")
        for d in report.daemons
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            continue
        daemon = report.daemons[index - 1]
        if daemon.last_error and daemon.state != "RUNNING":
            lines.append(f"    last error: {daemon.last_error}")
        if daemon.note:
            lines.append(f"    note: {daemon.note}")
    if report.exporter_state not in (None, "RUNNING", "STARTING"):
        log = MasterFiles.for_config(config).exporter_log
        lines.append(f"metrics: the endpoint ({config.orchestrator.metrics_listen}) is {report.exporter_state}; "
                     f"see {log}")
    return "\n".join(lines)


def status(config: Config, names: Sequence[str] = (), as_json: bool = False) -> int:
    """Print the status; 0 when every shown enabled daemon is RUNNING, 3 otherwise (master down included)."""
    report = collect(config, names)
    if as_json:
        print(json.dumps([asdict(d) for d in report.daemons], indent=2))
        if report.master_pid is None:
            print("master: not running", file=sys.stderr)
        if report.broker_error:
            print(f"broker: {report.broker_error}", file=sys.stderr)
    else:
        print(render_table(config, report))
    return EXIT_OK if report.all_running else EXIT_NOT_RUNNING
