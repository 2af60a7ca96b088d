"""Programs written against the old edeposit.amqp API run unchanged on the new runtime (real broker).

tests/old_style/ holds them as the old docs show them, only the Python 2 syntax changed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from daemons.rpc.client import RPCClient
from daemons.testing import BROKER, bound_queue, queue_state, read_messages, wait_for, write_config

OLD = Path(__file__).resolve().parent / "old_style"
ISBN = "80-251-0225-4"
pytestmark = pytest.mark.slow


def python(script: str, *args: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(OLD / script), *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture
def old_site(tmp_path: Path, vhost: str) -> dict[str, Any]:
    """An INI with aleph in the test's vhost, found the usual way ($EDEPOSIT_AMQPD_CONFIG), as old programs read it."""
    state = tmp_path / "state"
    config = write_config(tmp_path / "amqpd.ini", vhost, state, {"aleph": {}})
    env = {**os.environ, "EDEPOSIT_AMQPD_CONFIG": str(config), "HOME": str(tmp_path / "home"),
           "PYTHONUNBUFFERED": "1", "ECHO_VHOST": vhost}
    return {"config": config, "state": state, "env": env, "vhost": vhost}


@pytest.fixture
def old_daemon(old_site: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """tests/old_style/alephdaemon.py started as a daemon (`start`), stopped (`stop`) afterwards."""
    started = python("alephdaemon.py", "start", env=old_site["env"])
    assert started.returncode == 0, started.stderr
    try:
        wait_for(lambda: queue_state(old_site["vhost"], "daemon")[1] == 1, 30, what="the old daemon to consume")
        yield old_site
    finally:
        stopped = python("alephdaemon.py", "stop", env=old_site["env"])
        assert stopped.returncode == 0, stopped.stderr


def test_old_daemon_and_old_client_talk_with_progress_answers_and_old_exception_headers(
        old_daemon: dict[str, Any]) -> None:
    client = python("client.py", ISBN, env=old_daemon["env"])
    assert client.returncode == 0, client.stderr
    messages = [json.loads(line) for line in client.stdout.splitlines()]
    by_uuid: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        by_uuid.setdefault(message["UUID"], []).append(message)

    progress, search = by_uuid["search-1"]
    assert progress["value"] == {"num_of_records": 1, "__nt_name": "CountResult"}
    [record] = search["value"]["records"]
    assert record["__nt_name"] == "AlephRecord" and record["parsed_info"]["ISBN"] == ISBN
    assert record["parsed_info"]["nazev"] == "Babička" and record["parsed_info"]["__nt_name"] == "EPublication"

    [validation] = by_uuid['{"session": "validate-2"}']
    assert validation["value"] == {"is_valid": True, "__nt_name": "ISBNValidationResult"}

    [error] = by_uuid["count-3"]
    assert error["content_type"] == "application/text"
    assert error["value"] == error["exception"] == "Unrecognized message: CountRequest"
    assert (error["exception_name"], error["exception_type"]) == ("ValueError", "<class 'ValueError'>")
    assert "in reactToAMQPMessage" in error["traceback"] and error["traceback"].rstrip().endswith(error["value"])

    log = (old_daemon["state"] / "log" / "aleph.log").read_text()
    for uuid in ("search-1", '{"session": "validate-2"}', "count-3"):
        assert f"serving request {uuid}\n" in log, "react_fn's second argument is the request's UUID"


def test_the_master_does_not_run_a_daemon_an_old_style_program_runs(old_daemon: dict[str, Any]) -> None:
    pid = int((old_daemon["state"] / "run" / "aleph.pid").read_text())
    worker = subprocess.run([sys.executable, "-m", "orchestrator", "-c", str(old_daemon["config"]), "worker", "aleph"],
                            capture_output=True, text=True, timeout=60, env=old_daemon["env"])
    assert worker.returncode == 1
    assert f"daemon aleph is already run by an old per-daemon script (pid {pid}" in worker.stderr
    assert "alephdaemon.py start" in worker.stderr
    assert "stop it with `edeposit_amqp_alephdaemon.py stop`" in worker.stderr
    assert queue_state(old_daemon["vhost"], "daemon")[1] == 1


def test_bare_pikadaemon_subclass_answers_through_its_old_hooks(old_site: dict[str, Any]) -> None:
    vhost = old_site["vhost"]
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="edeposit test declare"))
    connection.channel().exchange_declare("echo-copies", exchange_type="topic", durable=True)
    connection.close()
    process = subprocess.Popen([sys.executable, str(OLD / "pikadaemon_echo.py"), "start", "-f"], env=old_site["env"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: queue_state(vhost, "echo_in")[1] == 1, 30, what="the PikaDaemon to consume")
        with bound_queue(vhost, "echo-copies", "copy") as copies, RPCClient(BROKER, vhost, "echo") as client:
            steps: list[Any] = []
            assert client.call(b'{"n": 1}', uuid="echo-1", progress=steps.append) == {"n": 1}
            assert steps == [{"step": 1}]
            [(_, properties, body)] = read_messages(vhost, copies, 1)
            assert (properties.headers, body) == ({"UUID": "echo-1"}, b'{"n": 1}')
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
