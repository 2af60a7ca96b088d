"""ftp_monitor's metrics as the exporter reports them: records, events, bytes behind the log, its age."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from daemons.rpc.metrics import MULTIPROC_ENV
from daemons.testing import WorkerProcess, wait_for
from orchestrator.config import load
from orchestrator.exporter import build_registry
from tests.fixtures.ftp_log import QueueReader, SessionWriter
from tests.test_ftp_monitor_process import collect_unique, config_for, reader, upload  # noqa: F401

pytestmark = pytest.mark.slow


def samples(registry: object) -> dict[str, float]:
    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith("edeposit_ftp_monitor")}


def test_counts_and_bytes_behind_follow_the_log_also_while_the_monitor_is_down(
        vhost: str, tmp_path: Path, reader: QueueReader) -> None:  # noqa: F811
    path = config_for(vhost, tmp_path)
    config = load(path)
    metrics_dir = config.orchestrator.metrics_dir
    metrics_dir.mkdir(parents=True)
    registry = build_registry(config)
    log = tmp_path / "extended.log"
    with SessionWriter(log) as session:
        worker = WorkerProcess(path, "ftp_monitor", tmp_path / "worker.log", env={MULTIPROC_ENV: str(metrics_dir)})
        try:
            wait_for(lambda: "publishing to exchange" in worker.log(), 20, what="the monitor to connect")
            for n in range(30):
                session.write(upload(n))
            collect_unique(reader, 30)
            wait_for(lambda: samples(registry).get("edeposit_ftp_monitor_bytes_behind") == 0, what="nothing behind")
            now = samples(registry)
            assert now["edeposit_ftp_monitor_records_read_total"] == 30
            assert now["edeposit_ftp_monitor_events_published_total"] == 30
            assert now["edeposit_ftp_monitor_imports_published_total"] == 0
            assert 0 <= now["edeposit_ftp_monitor_seconds_since_last_record"] < 30
        finally:
            assert worker.stop() == 0
        size = log.stat().st_size
        session.write(upload(30))  # while it is down
        grown = log.stat().st_size - size
    assert grown > 0
    after = samples(registry)
    assert after["edeposit_ftp_monitor_bytes_behind"] == grown
    assert after["edeposit_ftp_monitor_records_read_total"] == 30  # a dead monitor's counts stay
