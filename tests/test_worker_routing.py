"""Answers are published mandatory: an unroutable answer repairs the daemon's own binding, a gone client is
skipped, and the request is acked either way (real broker, real worker process)."""

from __future__ import annotations

import json
from pathlib import Path

import pika

from daemons.testing import BROKER, publish, queue_state, read_messages, running_worker, wait_for, write_config

CORE = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "core",
    "input_queue": "core_in",
    "output_queue": "core_out",
}


def admin_channel(vhost: str) -> tuple[pika.BlockingConnection, object]:
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="edeposit test admin"))
    return connection, connection.channel()


def ping(vhost: str, text: str, uuid: str, **properties: object) -> None:
    publish(vhost, "core", "request", json.dumps({"text": text, "__nt_name": "Ping"}).encode(), {"UUID": uuid},
            **properties)


def test_answer_reaches_the_output_queue_after_its_binding_was_deleted(tmp_path: Path, vhost: str) -> None:
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"core": CORE})
    with running_worker(config, "core", tmp_path / "core.log") as worker:
        connection, channel = admin_channel(vhost)
        channel.queue_unbind("core_out", "core", routing_key="result")  # type: ignore[attr-defined]
        connection.close()
        ping(vhost, "rebound", "after-unbind")
        [(_, properties, body)] = read_messages(vhost, "core_out", 1, timeout=5)
        ping(vhost, "again", "second")
        [(_, second, _)] = read_messages(vhost, "core_out", 1, timeout=5)
        log = worker.log()
    assert properties.headers["UUID"] == "after-unbind" and json.loads(body)["text"] == "rebound"
    assert second.headers["UUID"] == "second"
    assert log.count("declaring queue 'core_out' and its binding again") == 1, "the binding was repaired once"
    assert "reconnect" not in log


def test_reply_to_a_deleted_queue_is_logged_and_the_request_acked(tmp_path: Path, vhost: str) -> None:
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"core": CORE})
    with running_worker(config, "core", tmp_path / "core.log") as worker:
        connection, channel = admin_channel(vhost)
        channel.queue_declare("gone-client")  # type: ignore[attr-defined]
        channel.queue_delete("gone-client")  # type: ignore[attr-defined]
        connection.close()
        ping(vhost, "hello", "client-left", reply_to="gone-client", correlation_id="c-1")
        [(_, properties, _)] = read_messages(vhost, "core_out", 1, timeout=5)
        wait_for(lambda: "reply_to queue 'gone-client' is gone" in worker.log(), 5, what="the logged skip")
        wait_for(lambda: queue_state(vhost, "core_in") == (0, 1), 5, what="the request to be acked")
        ping(vhost, "later", "later")
        [(_, later, body)] = read_messages(vhost, "core_out", 1, timeout=5)
        log = worker.log()
    assert properties.headers["UUID"] == "client-left" and properties.correlation_id == "c-1"
    assert later.headers["UUID"] == "later" and json.loads(body)["text"] == "later"
    assert "reconnect" not in log and "new channel" not in log
