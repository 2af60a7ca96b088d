"""`schema create` reports what it made and what existed; `schema delete` removes it, asks first and
refuses while the daemon runs. Against the real broker (and a real master for the refusal)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest

from daemons.rpc import daemonize
from daemons.testing import BROKER, publish, wait_for, write_config
from orchestrator import cli
from orchestrator.config import load
from orchestrator.ownership import owner_file
from tests.test_master_lifecycle import echo_daemon, make_master  # noqa: F401 - fixture

ECHO = "tests.handlers.master_echo:react"


def daemons() -> dict[str, dict[str, Any]]:
    return {"one": {"handler": ECHO, "exchange": "e1", "input_queue": "in1"},
            "two": {"handler": ECHO, "exchange": "e2", "input_queue": "in2"}}


def run(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capfd.readouterr()
    code = cli.main(list(args))
    out, err = capfd.readouterr()
    return code, out, err


def exists(vhost: str, kind: str, name: str) -> bool:
    connection = pika.BlockingConnection(BROKER.parameters(vhost))
    try:
        channel = connection.channel()
        if kind == "exchange":
            channel.exchange_declare(exchange=name, passive=True)
        else:
            channel.queue_declare(queue=name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        connection.close()


def vhost_exists(vhost: str) -> bool:
    try:
        pika.BlockingConnection(BROKER.parameters(vhost)).close()
        return True
    except pika.exceptions.AMQPConnectionError:
        return False


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_create_tells_created_from_existing_under_a_heading_per_daemon(
        vhost: str, tmp_path: Path, state_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "a.ini", vhost, state_dir, daemons())
    code, out, _ = run(capfd, "schema", "create", "-c", str(config))
    assert code == 0
    assert out.splitlines()[:5] == [
        f"one (vhost '{vhost}'):", f"  vhost '{vhost}': already existed", "  exchange 'e1': created",
        "  queue 'in1': created", "  queue 'plone': created"]
    assert "two (vhost " in out and "  exchange 'e2': created" in out
    assert "  queue 'plone': already existed" in out.split("two (vhost")[1]
    assert "  binding e1['request'] -> 'in1': bound" in out
    publish(vhost, "e1", "request", b"waiting")
    code, out, _ = run(capfd, "-c", str(config), "schema", "create", "one")
    assert code == 0 and "two (vhost" not in out
    assert "  exchange 'e1': already existed" in out
    assert "  queue 'in1': already existed (1 message waiting)" in out


def test_delete_asks_removes_only_what_no_other_daemon_uses_then_the_whole_vhost(
        vhost: str, tmp_path: Path, state_dir: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "a.ini", vhost, state_dir, daemons())
    assert run(capfd, "schema", "create", "-c", str(config))[0] == 0
    publish(vhost, "e1", "request", b"waiting")
    monkeypatch.setattr("sys.stdin", FakeTerminal("n\n"))
    code, out, _ = run(capfd, "schema", "delete", "one", "-c", str(config))
    assert code == 1 and "nothing was deleted" in out
    assert "  delete queue 'in1', 1 message waiting would be lost" in out
    assert "  keep queue 'plone' (also used by two)" in out
    assert exists(vhost, "queue", "in1")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no one to ask
    code, _, err = run(capfd, "schema", "delete", "one", "-c", str(config))
    assert code == 1 and f"run `edeposit-amqpd -c {config} schema delete one --yes`" in err
    monkeypatch.setattr("sys.stdin", FakeTerminal("y\n"))
    code, out, _ = run(capfd, "schema", "delete", "one", "-c", str(config))
    assert code == 0 and f"deleted queue 'in1' in vhost '{vhost}'" in out
    assert not exists(vhost, "queue", "in1") and not exists(vhost, "exchange", "e1")
    assert exists(vhost, "queue", "plone") and exists(vhost, "exchange", "e2")
    code, out, _ = run(capfd, "schema", "delete", "all", "--yes", "-c", str(config))
    assert code == 0 and f"deleted vhost '{vhost}'" in out
    assert not vhost_exists(vhost)
    code, out, _ = run(capfd, "schema", "delete", "all", "--yes", "-c", str(config))
    assert code == 0 and "nothing to delete" in out


def test_delete_refuses_while_a_process_holds_the_owner_lock(
        vhost: str, tmp_path: Path, state_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "a.ini", vhost, state_dir, daemons())
    assert run(capfd, "schema", "create", "-c", str(config))[0] == 0
    held = daemonize.claim(owner_file(load(config), "one"), exclusive=False)  # as a worker does
    try:
        code, _, err = run(capfd, "schema", "delete", "all", "--yes", "-c", str(config))
    finally:
        os.close(held)
    assert code == 1 and "refusing to delete the schema of a running daemon" in err
    assert "daemon one is running (a process holds" in err and "daemon two" not in err
    assert exists(vhost, "queue", "in1")


def test_delete_refuses_while_the_master_runs_the_daemon(make_master: Any, vhost: str) -> None:  # noqa: F811
    master = make_master({"one": echo_daemon(1)})
    assert master.run("start-all")[0] == 0
    wait_for(lambda: exists(vhost, "queue", "in1"), what="the worker declared its queue")
    code, _, err = master.run("schema", "delete", "one", "--yes")
    assert code == 1
    assert f"daemon one runs under the master: stop it first with `edeposit-amqpd -c {master.config} stop one`" in err
    assert exists(vhost, "queue", "in1")
    assert master.run("stop", "one")[0] == 0
    code, out, _ = master.run("schema", "delete", "one", "--yes")
    assert code == 0 and f"deleted vhost '{vhost}'" in out
