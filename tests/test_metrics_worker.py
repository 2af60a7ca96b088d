"""A worker's own counts, read from its multiprocess files: poison, redeliveries, reconnects, dead pids."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from daemons.rpc.metrics import MULTIPROC_ENV
from daemons.testing import WorkerProcess, publish, read_messages, wait_for
from orchestrator.config import load
from orchestrator.exporter import build_registry
from tests.test_metrics_endpoint import value
from tests.test_worker_resilience import make_config

pytestmark = pytest.mark.slow


def scrape(registry: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def close_connections(vhost: str) -> int:
    listing = subprocess.run(["rabbitmqctl", "-q", "list_connections", "pid", "vhost", "--no-table-headers"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    pids = [line.split("\t")[0] for line in listing.splitlines() if line.split("\t")[-1].strip() == vhost]
    for pid in pids:
        subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "closed by test"], check=True,
                       capture_output=True, timeout=60)
    return len(pids)


def test_poison_redeliveries_reconnects_and_the_in_hand_gauge_of_dead_workers(tmp_path: Path, vhost: str) -> None:
    path = make_config(tmp_path, vhost, poison_limit=3)
    config = load(path)
    metrics_dir = config.orchestrator.metrics_dir
    metrics_dir.mkdir(parents=True)
    env = {MULTIPROC_ENV: str(metrics_dir)}
    registry = build_registry(config)
    me = {"daemon": "core", "process": "core"}
    for attempt in range(4):
        worker = WorkerProcess(path, "core", tmp_path / f"worker{attempt}.log", env=env)
        try:
            if attempt == 0:
                worker.wait_consuming()
                publish(vhost, "core", "request", b'{"__nt_name": "Die"}', {"UUID": "poison"})
            if attempt < 3:
                assert worker.process.wait(30) == -signal.SIGKILL
                continue
            worker.wait_consuming()
            read_messages(vhost, "core_out", 1)
            samples = scrape(registry)
            assert value(samples, "edeposit_requests_total", **me, outcome="poison", exception="") == 1
            assert value(samples, "edeposit_redeliveries_total", **me) == 3
            assert value(samples, "edeposit_answers_published_total", **me) == 1
            # Three workers died with the message in hand; only the live one counts.
            assert value(samples, "edeposit_messages_in_hand", **me) == 0
            assert value(samples, "edeposit_reconnects_total", **me) == 0
            assert close_connections(vhost) == 1
            wait_for(lambda w=worker: w.log().count("state connecting -> consuming") == 2, what="the reconnect")
            samples = scrape(registry)
            assert value(samples, "edeposit_reconnects_total", **me) == 1
            assert value(samples, "edeposit_broker_connected", **me, node="127.0.0.1:5672") == 1
        finally:
            worker.stop()
    samples = scrape(registry)
    assert value(samples, "edeposit_messages_in_hand", **me) is None  # no live worker: no live gauge
    assert not list(metrics_dir.glob("gauge_live*.db"))
