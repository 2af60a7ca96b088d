"""The master's Prometheus endpoint: `python -m orchestrator.exporter [-c INI]`, a program of the master.

supervisord itself cannot serve HTTP of our making, so the CLI adds this small program to the
supervisord config it writes whenever `[orchestrator] metrics_listen` is set (docs/monitoring.rst). At
each scrape it adds up what the workers wrote (prometheus_client multiprocess files under
`<state_dir>/metrics`), asks supervisord for the processes' states over the control socket, reads the
event listener's records, and reuses the broker's queue depths for `metrics_queue_interval` seconds, so
the broker is asked at most once per interval however often anyone scrapes.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import threading
import time
import xmlrpc.client
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from daemons.common.processes import pid_alive
from orchestrator.broker_checks import BrokerUnreachable, QueueState, queue_states
from orchestrator.config import Config
from orchestrator.control import MasterClient, MasterFiles
from orchestrator.records import RecordStore

log = logging.getLogger("edeposit.exporter")
STATES = ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")
LAST_RECORD = "edeposit_ftp_monitor_last_record_timestamp_seconds"
_LIVE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")


def forget_dead_processes(path: Path) -> list[int]:
    """Drop the live gauges (messages in hand, broker connected) of workers that died; their counters stay."""
    dead = set()
    for file in path.glob("gauge_live*.db"):
        match = _LIVE_FILE.match(file.name)
        if match and not pid_alive(int(match[1])):
            dead.add(int(match[1]))
    for pid in dead:
        mark_process_dead(pid, str(path))
    return sorted(dead)


class QueueCache:
    """Each daemon's input queue (depth, consumers), asked of the broker at most once per `interval`."""

    def __init__(self, config: Config, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.interval = interval
        self.clock = clock
        self.queries = 0
        self._lock = threading.Lock()
        self._at: float | None = None
        self._states: dict[str, QueueState] = {}
        self._error: str | None = None

    def get(self) -> tuple[dict[str, QueueState], str | None]:
        """The states and, when the broker did not answer, why."""
        with self._lock:
            now = self.clock()
            if self._at is None or now - self._at >= self.interval:
                self.queries += 1
                try:
                    self._states = queue_states(self.config.amqp, [d for d in self.config.enabled if d.is_rpc])
                    self._error = None
                except BrokerUnreachable as exc:
                    self._states, self._error = {}, str(exc)
                self._at = self.clock()
            return self._states, self._error


def _gauge(name: str, text: str, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, labels=list(labels))


class FleetCollector:
    """Everything the endpoint shows, gathered fresh at each scrape (except the cached queue depths)."""

    def __init__(self, config: Config, queues: QueueCache | None = None) -> None:
        self.config = config
        self.files = MasterFiles.for_config(config)
        self.metrics_dir = config.orchestrator.metrics_dir
        self.queues = queues or QueueCache(config, config.orchestrator.metrics_queue_interval)
        self._workers = MultiProcessCollector(None, str(self.metrics_dir))
        # One scrape at a time: a dead worker's files removed by one must not vanish under another's reading.
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            families = list(self._collect())
        yield from families

    def _collect(self) -> Iterator[Metric]:
        now = time.time()
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        forget_dead_processes(self.metrics_dir)
        last_records: list[tuple[dict[str, str], float]] = []
        for family in self._workers.collect():
            if family.name == LAST_RECORD:
                last_records = [(dict(s.labels), s.value) for s in family.samples if s.value > 0]
            yield family
        yield from self._processes()
        yield from self._records(now)
        yield from self._queues()
        yield from self._ftp_monitor(now, last_records)

    # -- supervisord ------------------------------------------------------------------------------
    def _processes(self) -> Iterable[Metric]:
        master_up = _gauge("edeposit_master_up", "1 when supervisord answers on its control socket", [])
        state = _gauge("edeposit_process_state", "1 for the supervisord state each worker process is in",
                       ["daemon", "process", "state"])
        up = _gauge("edeposit_process_up", "1 while the worker process is RUNNING", ["daemon", "process"])
        started = _gauge("edeposit_process_start_time_seconds", "Unix time the running worker process started",
                         ["daemon", "process"])
        names = {d.name for d in self.config.enabled}
        try:
            infos = [info for info in MasterClient(self.files).processes() if info["group"] in names]
            master_up.add_metric([], 1)
        except (OSError, xmlrpc.client.Error) as exc:
            log.warning("supervisord does not answer: %s", exc)
            infos = []
            master_up.add_metric([], 0)
        for info in infos:
            labels = [info["group"], info["name"]]
            for name in STATES:
                state.add_metric([*labels, name], 1 if info["statename"] == name else 0)
            running = info["statename"] == "RUNNING"
            up.add_metric(labels, 1 if running else 0)
            if running:
                started.add_metric(labels, info["start"])
        return [master_up, state, up, started]

    # -- the event listener's records ---------------------------------------------------------------
    def _records(self, now: float) -> Iterable[Metric]:
        store = RecordStore(self.files.records)
        window = self.config.orchestrator.crash_window
        restarts = CounterMetricFamily("edeposit_daemon_restarts", "Automatic restarts after a worker exited",
                                       labels=["daemon"])
        crashes = _gauge("edeposit_daemon_recent_crashes", "Crashes within the last crash_window seconds",
                         ["daemon"])
        looping = _gauge("edeposit_daemon_crash_looping", "1 when the daemon was stopped for crash-looping",
                         ["daemon"])
        for settings in self.config.enabled:
            record = store.load(settings.name)
            restarts.add_metric([settings.name], record.restarts)
            crashes.add_metric([settings.name], sum(1 for t in record.crashes if now - t < window))
            looping.add_metric([settings.name], 1 if store.crash_loop(settings.name) else 0)
        return [restarts, crashes, looping]

    # -- the broker -------------------------------------------------------------------------------
    def _queues(self) -> Iterable[Metric]:
        states, error = self.queues.get()
        broker_up = _gauge("edeposit_broker_up", "1 when the last queue query reached the broker", [])
        broker_up.add_metric([], 0 if error else 1)
        depth = _gauge("edeposit_queue_messages", "Messages ready in the daemon's input queue",
                       ["daemon", "queue"])
        consumers = _gauge("edeposit_queue_consumers", "Consumers of the daemon's input queue", ["daemon", "queue"])
        for settings in self.config.enabled:
            state = states.get(settings.name)
            if state is None or state.depth is None or settings.input_queue is None:
                continue
            depth.add_metric([settings.name, settings.input_queue], state.depth)
            consumers.add_metric([settings.name, settings.input_queue], state.consumers or 0)
        return [broker_up, depth, consumers]

    # -- ftp_monitor ------------------------------------------------------------------------------
    def _ftp_monitor(self, now: float, last_records: list[tuple[dict[str, str], float]]) -> Iterable[Metric]:
        since = _gauge("edeposit_ftp_monitor_seconds_since_last_record",
                       "Seconds since ftp_monitor last read a record", ["daemon", "process"])
        for labels, value in last_records:
            since.add_metric([labels.get("daemon", ""), labels.get("process", "")], max(0.0, now - value))
        behind = _gauge("edeposit_ftp_monitor_bytes_behind",
                        "Bytes of the ExtendedLog not yet confirmed by the broker", ["daemon"])
        monitors = [d for d in self.config.enabled if not d.is_rpc and d.handler.startswith("ftp_monitor.")]
        for settings in monitors:
            behind_bytes = bytes_behind(settings)
            if behind_bytes is not None:
                behind.add_metric([settings.name], behind_bytes)
        return [since, behind]


def bytes_behind(settings: Any) -> int | None:
    """Log bytes after the saved (confirmed) offsets, over the current log and those still draining.

    None until the monitor saved its first offsets (it may start at the log's end).
    """
    import json

    from ftp_monitor.monitor import OFFSETS_FILE
    from ftp_monitor.options import load_options

    try:
        saved = json.loads((settings.data_dir / OFFSETS_FILE).read_text(encoding="utf-8"))["files"]
        log_file = load_options(settings).log_file
    except Exception:  # no offsets yet, a damaged file or bad options (the monitor itself reports those)
        return None
    total = 0
    seen = set()
    for position in saved:
        try:
            info = os.stat(position["path"])
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (position["device"], position["inode"]):
            total += max(0, info.st_size - int(position["offset"]))
            seen.add((info.st_dev, info.st_ino))
    try:
        current = os.stat(log_file)
    except OSError:
        return total
    if (current.st_dev, current.st_ino) not in seen:
        total += current.st_size  # a log not read at all yet
    return total


def build_registry(config: Config, queues: QueueCache | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(config, queues))
    return registry


def serve(config: Config, stop: threading.Event) -> int:
    """Serve until `stop` is set; 1 when the address cannot be used."""
    address = config.orchestrator.metrics_address
    if address is None:
        log.error("[orchestrator] metrics_listen is empty: metrics are off, nothing to serve")
        return 1
    host, port = address
    registry = build_registry(config)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.error("cannot listen on %s:%d (%s): set [orchestrator] metrics_listen to a free address", host, port,
                  exc.strerror or exc)
        return 1
    log.info("serving metrics on http://%s:%d/metrics", host if ":" not in host else f"[{host}]", port)
    stop.wait()
    server.shutdown()
    server.server_close()
    thread.join(5)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from daemons.rpc import logs
    from daemons.rpc.runner import EXIT_WITH_PARENT_ENV, exit_with_parent
    from orchestrator.config import load

    parser = argparse.ArgumentParser(prog="python -m orchestrator.exporter", description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", help="INI file (default: as for edeposit-amqpd)")
    args = parser.parse_args(argv)
    config = load(args.config)
    logs.setup("INFO", config.orchestrator.log_format, "exporter")
    if os.environ.get(EXIT_WITH_PARENT_ENV) == "1":
        exit_with_parent()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return serve(config, stop)


if __name__ == "__main__":
    raise SystemExit(main())
