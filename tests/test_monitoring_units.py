"""The pieces behind metrics, top and the logs, one by one."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from daemons.rpc import logs
from daemons.rpc.handler import Request, done_serving, serving
from orchestrator.address import parse_listen
from orchestrator.broker_checks import QueueState
from orchestrator.config import ConfigError, load
from orchestrator.exporter import QueueCache
from orchestrator.status import DaemonStatus
from orchestrator.top import Counts, History, quantile


def test_listen_addresses_parse_and_bad_ones_name_the_key(tmp_path: Path) -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("  ") is None
    for bad in ("9464", "::1:9464", "host:0", "host:http"):
        with pytest.raises(ValueError):
            parse_listen(bad)
    ini = tmp_path / "a.ini"
    ini.write_text("[orchestrator]\nmetrics_listen = localhost\n")
    with pytest.raises(ConfigError, match=r"\[orchestrator\] metrics_listen = 'localhost': expected host:port"):
        load(ini)
    ini.write_text("[orchestrator]\nmetrics_listen = \"\"\n")
    assert load(ini).orchestrator.metrics_address is None


def test_quantiles_interpolate_inside_the_bucket_as_prometheus_does() -> None:
    buckets = {0.1: 50.0, 0.2: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.7, buckets) == pytest.approx(0.15)
    assert quantile(0.99, buckets) == pytest.approx(0.2 + 0.8 * 0.9)
    assert quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert quantile(0.99, {0.1: 1.0, float("inf"): 10.0}) == 0.1  # beyond the last finite bound


def test_history_gives_rates_over_ten_seconds_and_quantiles_over_the_window() -> None:
    history = History()
    history.add(0.0, {"d": Counts(requests=100, errors=10, buckets={0.01: 100, float("inf"): 100})})
    history.add(5.0, {"d": Counts(requests=150, errors=20, buckets={0.01: 140, float("inf"): 150},
                                  errors_by_exception={"ValueError": 10})})
    history.add(10.0, {"d": Counts(requests=200, errors=30, buckets={0.01: 150, float("inf"): 200},
                                   errors_by_exception={"ValueError": 20})})
    row = history.row(DaemonStatus("d", "RUNNING", True), 12.0)
    assert row.rate == pytest.approx(10.0) and row.error_rate == pytest.approx(2.0)
    assert row.p50 == pytest.approx(0.01 * 50 / 50)  # 100 new requests: 50 under 10 ms
    assert row.p99 == 0.01
    assert row.last_error == "ValueError in a request, 2 s ago"


def test_queue_depths_are_asked_of_the_broker_at_most_once_per_interval(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ini = tmp_path / "a.ini"
    ini.write_text("")
    calls = []
    monkeypatch.setattr("orchestrator.exporter.queue_states",
                        lambda amqp, daemons: calls.append(1) or {"aleph": QueueState(3, 1)})
    now = [100.0]
    cache = QueueCache(load(ini), interval=10, clock=lambda: now[0])
    for moment in (100.0, 101.0, 109.9):
        now[0] = moment
        assert cache.get()[0]["aleph"] == QueueState(3, 1)
    assert len(calls) == 1
    now[0] = 110.0
    cache.get()
    assert len(calls) == 2


def _capture(log_format: str) -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestFilter("calibre"))
    handler.setFormatter(logs.JsonFormatter() if log_format == "json" else logging.Formatter(logs.TEXT_FORMAT))
    logger = logging.getLogger(f"test.logs.{log_format}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return stream, logger


def test_json_lines_carry_the_uuid_in_hand_and_the_exception() -> None:
    stream, logger = _capture("json")
    logger.info("idle")
    token = logs.hold("u-1")
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed")
    logs.release(token)
    inside = serving(Request("u-2", None, None, b"", "result"))
    logger.warning("in react")
    done_serving(inside)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("UUID") for line in lines] == [None, "u-1", "u-2"]
    assert lines[1]["exception"].endswith("ValueError: bad") and lines[1]["level"] == "ERROR"
    assert {line["daemon"] for line in lines} == {"calibre"}
    assert all({"time", "level", "pid", "message"} <= set(line) for line in lines)


def test_text_lines_name_the_uuid_only_while_a_request_is_in_hand() -> None:
    stream, logger = _capture("text")
    token = logs.hold("u-3")
    logger.info("working")
    logs.release(token)
    logger.info("idle")
    working, idle = stream.getvalue().splitlines()
    assert working.endswith("]: UUID=u-3 working") and idle.endswith("]: idle")


def test_a_new_log_format_changes_every_daemon_so_reload_restarts_them(tmp_path: Path) -> None:
    from orchestrator.supervisor_conf import fingerprint

    ini = tmp_path / "a.ini"
    ini.write_text("")
    before = load(ini)
    ini.write_text("[orchestrator]\nlog_format = json\n")
    after = load(ini)
    assert all(fingerprint(before, before.daemon(name)) != fingerprint(after, after.daemon(name))
               for name in ("aleph", "calibre"))


def test_a_frame_of_twelve_daemons_with_long_errors_fits_80_by_24(tmp_path: Path) -> None:
    from rich.console import Console

    from daemons.rpc.builtin import BUILTIN_DAEMONS
    from orchestrator.top import Row, render

    ini = tmp_path / "a.ini"
    ini.write_text("")
    rows = [Row(DaemonStatus(name, "BACKOFF", True, pids=[123456, 123457], uptime=90000.0, queue_depth=123456,
                             consumers=12), rate=1234.5, error_rate=0.5, p50=0.0004, p99=12.5,
                last_error="x" * 200) for name in BUILTIN_DAEMONS]
    console = Console(width=80, file=io.StringIO(), force_terminal=False)
    console.print(render(load(ini), rows, 4242, "no broker answers at 127.0.0.1:5672 " * 3))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    assert len(BUILTIN_DAEMONS) == 12 and sum(line.split()[0] in BUILTIN_DAEMONS for line in lines[2:14]) == 12
    assert lines[1].split() == ["NAME", "STATE", "PID", "UP", "REQ/S", "ERR/S", "P50", "P99", "QUEUE", "CONS"]
