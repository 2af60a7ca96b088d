"""What a worker counts for the master's metrics endpoint (orchestrator/exporter.py, docs/monitoring.rst).

Workers are separate processes, so they use prometheus_client's multiprocess mode: each process writes
its values to memory-mapped files under PROMETHEUS_MULTIPROC_DIR (the master sets it for every worker it
runs when `[orchestrator] metrics_listen` is on) and the exporter adds them up. A worker that dies
leaves its counter files behind, so totals carry on across restarts without counting anything twice.

Without that variable every hook does nothing and prometheus_client is never imported: a worker run by
hand, or with metrics off, pays one `if` per event.

The worker calls the module functions below, one short line per event. One request is in hand at a
time (the main thread handles them in turn), so the outcome of the current one is kept here.
"""

from __future__ import annotations

import contextvars
import os
from typing import Any

from daemons.rpc import logs

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# supervisord names each process of a program (`calibre`, or `calibre_00`, `calibre_01` when it runs several).
PROCESS_ENV = "SUPERVISOR_PROCESS_NAME"
OUTCOMES = ("ok", "error", "poison", "too_large", "no_uuid")
# From a quick in-memory answer to a long conversion.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, float("inf"))


def enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def process_label(daemon: str) -> str:
    return os.environ.get(PROCESS_ENV) or daemon


class WorkerMetrics:
    """The metric children of one worker process, made once so each event is a single `inc`."""

    def __init__(self, daemon: str, process: str) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        names = ["daemon", "process"]
        me = {"daemon": daemon, "process": process}
        self.me = me
        self.requests = Counter("edeposit_requests", "Requests answered, by outcome (error: by exception name)",
                                [*names, "outcome", "exception"])
        self.by_outcome = {name: self.requests.labels(**me, outcome=name, exception="") for name in OUTCOMES
                           if name != "error"}
        self.errors: dict[str, Any] = {}
        self.progress = Counter("edeposit_progress_messages", "Progress messages published",
                                names).labels(**me)
        self.answers = Counter("edeposit_answers_published", "Final answers the broker confirmed",
                               names).labels(**me)
        self.redeliveries = Counter("edeposit_redeliveries", "Requests that came with the redelivered flag",
                                    names).labels(**me)
        self.reconnects = Counter("edeposit_reconnects", "Broker connections lost or refused, then tried again",
                                  names).labels(**me)
        self.duration = Histogram("edeposit_handler_duration_seconds", "Time from decoding a request to its answer",
                                  names, buckets=DURATION_BUCKETS).labels(**me)
        self.in_hand = Gauge("edeposit_messages_in_hand", "Requests taken from the queue and not yet answered",
                             names, multiprocess_mode="livesum").labels(**me)
        self.node = Gauge("edeposit_broker_connected", "1 while connected to this broker node",
                          [*names, "node"], multiprocess_mode="livemax")
        self.current_node: str | None = None

    def count(self, outcome: str, exception: str) -> None:
        if outcome != "error":
            self.by_outcome[outcome].inc()
            return
        child = self.errors.get(exception)
        if child is None:
            child = self.errors[exception] = self.requests.labels(**self.me, outcome="error", exception=exception)
        child.inc()


_sink: WorkerMetrics | None = None
_outcome: tuple[str, str] = ("ok", "")


def setup(daemon: str) -> None:
    """Start counting when the master asked for metrics (the worker calls it once, before serving)."""
    global _sink
    if enabled():
        from prometheus_client.multiprocess import mark_process_dead

        # A dead worker that had our pid may have left live gauges (a message in hand): they are not ours.
        mark_process_dead(os.getpid())
        _sink = WorkerMetrics(daemon, process_label(daemon))


def begin(method: Any, properties: Any) -> contextvars.Token[Any]:
    """A message was taken: it is in hand (also for the log lines) until `end`."""
    global _outcome
    _outcome = ("ok", "")
    token = logs.hold((properties.headers or {}).get("UUID"))
    if _sink is not None:
        _sink.in_hand.inc()
        if method.redelivered:
            _sink.redeliveries.inc()
    return token


def end(token: contextvars.Token[Any]) -> None:
    logs.release(token)
    if _sink is not None:
        _sink.in_hand.dec()


def outcome(name: str, exc: BaseException | None = None) -> None:
    """The answer in the making is not a plain success: `poison`, `too_large`, `no_uuid` or `error`."""
    global _outcome
    _outcome = (name, type(exc).__name__ if exc is not None else "")


def handler_seconds(seconds: float) -> None:
    if _sink is not None:
        _sink.duration.observe(seconds)


def answered() -> None:
    """The broker confirmed the final answer: the request counts, under its outcome."""
    if _sink is not None:
        _sink.answers.inc()
        _sink.count(*_outcome)


def progress() -> None:
    if _sink is not None:
        _sink.progress.inc()


def reconnect() -> None:
    if _sink is not None:
        _sink.reconnects.inc()


def connected(node: str) -> None:
    """Connected to the broker node `node` (`host:port`, daemons.rpc.nodes.label)."""
    if _sink is not None:
        disconnected()
        _sink.current_node = node
        _sink.node.labels(**_sink.me, node=_sink.current_node).set(1)


def disconnected() -> None:
    if _sink is not None and _sink.current_node is not None:
        _sink.node.labels(**_sink.me, node=_sink.current_node).set(0)
        _sink.current_node = None
