"""The worker survives what production throws at it: kills, SIGTERM, a dropped connection, poison."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pika
import pytest

from daemons.testing import BROKER, WorkerProcess, publish, queue_state, read_messages, wait_for, write_config

pytestmark = pytest.mark.slow

CORE = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "core",
    "input_queue": "core_in",
    "output_queue": "core_out",
}


def make_config(tmp_path: Path, vhost: str, **extra: object) -> Path:
    markers = tmp_path / "markers"
    markers.mkdir(exist_ok=True)
    daemon = {**CORE, **extra, "options": {"marker_dir": markers}}
    return write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"core": daemon})


def markers(tmp_path: Path, name: str) -> list[Path]:
    return sorted((tmp_path / "markers").glob(f"{name}.*"))


def test_message_survives_worker_kill(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    first = WorkerProcess(config, "core", tmp_path / "first.log")
    try:
        first.wait_consuming()
        publish(vhost, "core", "request", b'{"seconds": 2, "__nt_name": "Slow"}', {"UUID": "survivor"})
        wait_for(lambda: markers(tmp_path, "slow-started"), what="the handler to start")
        first.signal(signal.SIGKILL)
        first.process.wait(10)
    finally:
        first.stop()
    assert queue_state(vhost, "core_out")[0] == 0, "no answer may exist before the message was handled"

    second = WorkerProcess(config, "core", tmp_path / "second.log")
    try:
        second.wait_consuming()
        [(_, properties, body)] = read_messages(vhost, "core_out", 1)
    finally:
        second.stop()
    assert properties.headers["UUID"] == "survivor"
    assert json.loads(body) == "slept"
    assert queue_state(vhost, "core_in") == (0, 0)


def test_sigterm_during_slow_handler_publishes_answer_and_exits_0(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        publish(vhost, "core", "request", b'{"seconds": 1.5, "__nt_name": "Slow"}', {"UUID": "drain"})
        wait_for(lambda: markers(tmp_path, "slow-started"), what="the handler to start")
        worker.signal(signal.SIGTERM)
        assert worker.process.wait(15) == 0
    finally:
        worker.stop()
    [(_, properties, body)] = read_messages(vhost, "core_out", 1, timeout=2)
    assert properties.headers["UUID"] == "drain"
    assert json.loads(body) == "slept"
    assert queue_state(vhost, "core_in") == (0, 0), "the message was acked before exit"
    assert "state consuming -> draining" in worker.log()


def close_connections(name_part: str) -> int:
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties", "--no-table-headers"],
        capture_output=True, text=True, check=True,
    ).stdout
    pids = [line.split("\t")[0] for line in listing.splitlines() if name_part in line]
    for pid in pids:
        subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "closed by test"], check=True,
                       capture_output=True)
    return len(pids)


def test_worker_reconnects_after_broker_closes_its_connection(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        assert close_connections("edeposit-amqpd core") == 1
        wait_for(lambda: "state reconnecting -> connecting" in worker.log(), what="a reconnect attempt")
        wait_for(lambda: queue_state(vhost, "core_in")[1] == 1, what="the worker to consume again")
        publish(vhost, "core", "request", b'{"text": "back", "__nt_name": "Ping"}', {"UUID": "after"})
        [(_, properties, body)] = read_messages(vhost, "core_out", 1)
    finally:
        worker.stop()
    assert properties.headers["UUID"] == "after"
    assert json.loads(body)["text"] == "back"
    assert "reconnect attempt 1 in" in worker.log()


def test_poison_message_is_answered_with_an_error_after_three_deaths(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost, poison_limit=3)
    deaths = 0
    for attempt in range(4):
        worker = WorkerProcess(config, "core", tmp_path / f"worker{attempt}.log")
        try:
            if attempt == 0:
                worker.wait_consuming()
                publish(vhost, "core", "request", b'{"__nt_name": "Die"}', {"UUID": "poison"})
            if attempt < 3:
                assert worker.process.wait(30) == -signal.SIGKILL
                deaths += 1
            else:
                worker.wait_consuming()
                [(_, properties, body)] = read_messages(vhost, "core_out", 1)
        finally:
            worker.stop()
    assert deaths == 3
    assert properties.headers["UUID"] == "poison"
    assert properties.headers["exception_name"] == "PoisonMessageError"
    assert b"killed the core worker 3 times" in body
    assert queue_state(vhost, "core_in") == (0, 0)
    assert not list((tmp_path / "state" / "inflight" / "core").iterdir()), "death records and slots are cleared"


def test_heartbeats_flow_while_a_handler_runs_longer_than_the_heartbeat_timeout(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    text = config.read_text().replace("heartbeat = 10", "heartbeat = 1")
    config.write_text(text)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        publish(vhost, "core", "request", b'{"seconds": 5, "__nt_name": "Slow"}', {"UUID": "long"})
        [(_, properties, _)] = read_messages(vhost, "core_out", 1, timeout=20)
    finally:
        worker.stop()
    assert properties.headers["UUID"] == "long"
    assert "reconnect" not in worker.log(), "the connection must not have been dropped"


def test_worker_declares_its_queue_again_when_it_is_deleted(tmp_path: Path, vhost: str) -> None:
    config = make_config(tmp_path, vhost)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        connection = pika.BlockingConnection(BROKER.parameters(vhost))
        connection.channel().queue_delete("core_in")
        connection.close()
        wait_for(lambda: "cancelled the consumer of 'core_in'" in worker.log(), what="the cancel to be noticed")
        wait_for(lambda: queue_state(vhost, "core_in")[1] == 1, what="the queue to be declared and consumed again")
        publish(vhost, "core", "request", b'{"text": "again", "__nt_name": "Ping"}', {"UUID": "re"})
        [(_, properties, _)] = read_messages(vhost, "core_out", 1)
    finally:
        worker.stop()
    assert properties.headers["UUID"] == "re"
