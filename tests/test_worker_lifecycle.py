"""How a worker starts, stops and dies: local errors exit with the path, SIGTERM drains, stops by the master
are never counted as deaths, a long handler keeps its connection (real broker, real worker processes)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from daemons.rpc.worker import EXIT_LOCAL_ERROR, EXIT_THREAD_FAILED
from daemons.testing import WorkerProcess, publish, queue_state, read_messages, wait_for, write_config
from orchestrator import last_error

pytestmark = pytest.mark.slow

CORE = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "core",
    "input_queue": "core_in",
    "output_queue": "core_out",
}


def make_config(tmp_path: Path, vhost: str, heartbeat: int = 10, **extra: Any) -> Path:
    markers = tmp_path / "markers"
    markers.mkdir(exist_ok=True)
    daemon = {**CORE, **extra, "options": {"marker_dir": markers}}
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"core": daemon})
    config.write_text(config.read_text().replace("heartbeat = 10", f"heartbeat = {heartbeat}"))
    return config


def markers(tmp_path: Path, name: str) -> list[Path]:
    return sorted((tmp_path / "markers").glob(f"{name}.*"))


def slow(vhost: str, seconds: float, uuid: str) -> None:
    publish(vhost, "core", "request", json.dumps({"seconds": seconds, "__nt_name": "Slow"}).encode(), {"UUID": uuid})


def test_unusable_state_dir_exits_non_zero_naming_the_path(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "inflight").write_text("a file where the worker needs a directory")
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        code = worker.process.wait(20)
    finally:
        worker.stop()
    wanted = str(tmp_path / "state" / "inflight" / "core")
    log = worker.log()
    assert code == EXIT_LOCAL_ERROR
    assert wanted in log and "a local problem, not the broker" in log
    assert "reconnect" not in log
    shown = last_error.reason(log, f"exit status {code}")
    assert wanted in shown and "Not a directory" in shown, f"status would show {shown!r}"


def test_disk_full_under_the_handler_gives_the_message_back_and_exits(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        publish(vhost, "core", "request", b'{"path": "/srv/full/book.epub", "__nt_name": "DiskFull"}', {"UUID": "d"})
        code = worker.process.wait(20)
    finally:
        worker.stop()
    assert code == EXIT_LOCAL_ERROR
    shown = last_error.reason(worker.log(), f"exit status {code}")
    assert "/srv/full/book.epub" in shown and "No space left on device" in shown, shown
    assert queue_state(vhost, "core_in")[0] == 1, "the request waits for a worker with room"
    assert queue_state(vhost, "core_out")[0] == 0, "no answer: the request was not refused"


def test_sigterm_with_prefetch_5_answers_the_message_in_hand_and_gives_back_four(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost, prefetch=5)
    first = WorkerProcess(config, "core", tmp_path / "first.log")
    try:
        first.wait_consuming()
        for number in range(5):
            slow(vhost, 1.5, f"job-{number}")
        wait_for(lambda: markers(tmp_path, "slow-started"), what="the first handler call")
        wait_for(lambda: queue_state(vhost, "core_in")[0] == 0, what="all five delivered to the worker")
        first.signal(signal.SIGTERM)
        started = time.monotonic()
        code = first.process.wait(30)
        took = time.monotonic() - started
    finally:
        first.stop()
    assert code == 0 and took < 30
    assert "gave back 4 message(s) not started" in first.log()
    [(_, in_hand, body)] = read_messages(vhost, "core_out", 1, timeout=2)
    assert in_hand.headers["UUID"] == "job-0" and json.loads(body) == "slept"
    assert queue_state(vhost, "core_in")[0] == 4

    second = WorkerProcess(config, "core", tmp_path / "second.log")
    try:
        second.wait_consuming()
        rest = read_messages(vhost, "core_out", 4, timeout=20)
    finally:
        second.stop()
    assert sorted(p.headers["UUID"] for _, p, _ in rest) == [f"job-{n}" for n in range(1, 5)]
    assert queue_state(vhost, "core_in") == (0, 0)


@pytest.mark.parametrize("seconds", [
    20,
    pytest.param(300, marks=pytest.mark.timeout(420), id="5-minutes"),
])
def test_long_handler_with_heartbeat_2_is_answered_without_a_reconnect(tmp_path: Path, vhost: str,
                                                                        seconds: int) -> None:
    config = make_config(tmp_path, vhost, heartbeat=2)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        slow(vhost, seconds, "long")
        [(_, properties, body)] = read_messages(vhost, "core_out", 1, timeout=seconds + 30)
        log = worker.log()
    finally:
        worker.stop()
    assert properties.headers["UUID"] == "long" and json.loads(body) == "slept"
    assert "reconnect" not in log and "connection lost" not in log


def test_three_restarts_during_a_long_handler_never_make_it_poison(tmp_path: Path, vhost: str) -> None:
    """As supervisord restarts a daemon: TERM, KILL after stopwaitsecs, start again; three times."""
    stop_wait = 4
    config = make_config(tmp_path, vhost, stopwaitsecs=stop_wait, poison_limit=3)
    for attempt in range(3):
        worker = WorkerProcess(config, "core", tmp_path / f"worker{attempt}.log")
        try:
            worker.wait_consuming()
            if attempt == 0:
                slow(vhost, 8, "long-restart")
            wait_for(lambda n=attempt: len(markers(tmp_path, "slow-started")) == n + 1, what="the handler to start")
            worker.signal(signal.SIGTERM)
            code = worker.process.wait(stop_wait)  # supervisord would KILL after this
        finally:
            worker.stop()
        assert code == 0
        assert "giving its message back for another worker" in worker.log()
    slot_dir = tmp_path / "state" / "inflight" / "core"
    assert not list(slot_dir.iterdir()), "a stop leaves no death record"

    last = WorkerProcess(config, "core", tmp_path / "last.log")
    try:
        last.wait_consuming()
        [(_, properties, body)] = read_messages(vhost, "core_out", 1, timeout=20)
    finally:
        last.stop()
    assert properties.headers["UUID"] == "long-restart"
    assert "exception_name" not in properties.headers and json.loads(body) == "slept"
    assert len(markers(tmp_path, "slow-started")) == 4


def test_message_that_exits_its_process_is_answered_as_poison_after_three_deaths(tmp_path: Path,
                                                                                  vhost: str) -> None:
    config = make_config(tmp_path, vhost, poison_limit=3)
    for attempt in range(3):
        worker = WorkerProcess(config, "core", tmp_path / f"worker{attempt}.log")
        try:
            if attempt == 0:
                worker.wait_consuming()
                publish(vhost, "core", "request", b'{"code": 3, "__nt_name": "Exit"}', {"UUID": "exits"})
            assert worker.process.wait(30) == 3
        finally:
            worker.stop()
    survivor = WorkerProcess(config, "core", tmp_path / "survivor.log")
    try:
        survivor.wait_consuming()
        [(_, poison, body)] = read_messages(vhost, "core_out", 1)
        publish(vhost, "core", "request", b'{"text": "next", "__nt_name": "Ping"}', {"UUID": "next"})
        [(_, after, _)] = read_messages(vhost, "core_out", 1)
    finally:
        survivor.stop()
    assert len(markers(tmp_path, "exiting")) == 3, "run three times, never a fourth"
    assert poison.headers["UUID"] == "exits" and poison.headers["exception_name"] == "PoisonMessageError"
    assert b"killed the core worker 3 times" in body
    assert after.headers["UUID"] == "next"
    assert not list((tmp_path / "state" / "inflight" / "core").iterdir())


def test_an_exception_on_any_thread_ends_the_worker_with_its_traceback(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        publish(vhost, "core", "request", b'{"text": "helper died", "__nt_name": "CrashThread"}', {"UUID": "t"})
        code = worker.process.wait(20)
    finally:
        worker.stop()
    log = worker.log()
    assert code == EXIT_THREAD_FAILED
    assert "thread helper failed; the worker exits" in log and "Traceback (most recent call last)" in log
    assert last_error.reason(log, f"exit status {code}") == "RuntimeError: helper died"
    [slot] = (tmp_path / "state" / "inflight" / "core").iterdir()
    assert slot.read_bytes().strip(), "the message in hand counts as one death of it"
