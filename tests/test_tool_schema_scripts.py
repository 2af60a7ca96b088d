"""`schema create`, `edeposit-amqp-tool` and the old per-daemon scripts, against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.aleph import handler as aleph
from daemons.rpc.client import RPCClient
from daemons.rpc.vhosts import RabbitmqctlAdmin
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, publish, queue_state, read_messages, wait_for, write_config
from tests.fixtures.wire_files import WIRE

BIN = Path(sys.executable).parent


@pytest.fixture
def fresh_vhost_name(broker: object) -> Iterator[str]:
    """A vhost name that does not exist yet; removed afterwards whatever the test made."""
    name = f"edeposit-test-schema-{uuid.uuid4().hex[:8]}"
    yield name
    RabbitmqctlAdmin().delete(name)


def run(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=90,
                          env={**os.environ, **(env or {})}, input=stdin.decode() if stdin else None)


def test_schema_create_makes_vhost_exchanges_queues_and_bindings(tmp_path: Path, fresh_vhost_name: str) -> None:
    config = write_config(tmp_path / "a.ini", fresh_vhost_name, tmp_path / "state", {"aleph": {}})
    done = run(BIN / "edeposit-amqpd", "-c", config, "schema", "create", "aleph")
    assert done.returncode == 0, done.stderr
    assert f"  vhost '{fresh_vhost_name}': created" in done.stdout
    assert queue_state(fresh_vhost_name, "daemon") == (0, 0)
    assert queue_state(fresh_vhost_name, "plone") == (0, 0)
    # aleph's extra exchanges reach the same queues
    publish(fresh_vhost_name, "count", "request", b"{}", {"UUID": "c"})
    publish(fresh_vhost_name, "validate", "x.request", b"{}", {"UUID": "v"})
    wait_for(lambda: queue_state(fresh_vhost_name, "daemon")[0] == 2, what="both requests routed to 'daemon'")
    again = run(BIN / "edeposit-amqpd", "-c", config, "schema", "create", "aleph")
    assert again.returncode == 0 and f"  vhost '{fresh_vhost_name}': already existed" in again.stdout
    assert "  queue 'daemon': already existed (2 messages waiting)" in again.stdout


def test_tool_create_prints_the_old_output_shape(tmp_path: Path, fresh_vhost_name: str) -> None:
    config = write_config(tmp_path / "a.ini", fresh_vhost_name, tmp_path / "state", {"calibre": {}})
    done = run(BIN / "edeposit-amqp-tool", "-c", config, "--host", "calibre", "--create")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Created exchange 'convert'.",
        "Creating queues:",
        "\tCreated durable queue 'daemon'.",
        "\tCreated durable queue 'plone'.",
        "",
        "Routing exchanges using routing key to queues:",
        "\tRouting exchange convert['request'] -> 'daemon'.",
        "\tRouting exchange convert['#.request'] -> 'daemon'.",
        "\tRouting exchange convert['result'] -> 'plone'.",
        "",
    ]
    assert f"Created vhost '{fresh_vhost_name}'." in done.stderr


def test_tool_put_sends_a_request_and_get_prints_the_answers(tmp_path: Path, vhost: str) -> None:
    config = write_config(tmp_path / "a.ini", vhost, tmp_path / "state", {"aleph": {}})
    assert run(BIN / "edeposit-amqp-tool", "-c", config, "--host", "aleph", "--create").returncode == 0
    put = run(BIN / "edeposit-amqp-tool", "-c", config, "--host", "aleph", "--put", "-",
              stdin=(WIRE / "aleph-isbn-validation-request.json").read_bytes())
    assert put.returncode == 0, put.stderr
    sent_uuid = put.stdout.strip()
    [(_, properties, body)] = read_messages(vhost, "daemon", 1)
    assert properties.headers == {"UUID": sent_uuid}
    assert body == (WIRE / "aleph-isbn-validation-request.json").read_bytes()

    publish(vhost, "search", "result", b'{"is_valid": true}', {"UUID": sent_uuid})
    got = run(BIN / "edeposit-amqp-tool", "-c", config, "--host", "aleph", "--get", "-t", "1")
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("Message:\n")
    assert sent_uuid in got.stdout and '{"is_valid": true}' in got.stdout
    assert queue_state(vhost, "plone")[0] == 0


def test_tool_lists_the_daemons() -> None:
    done = run(BIN / "edeposit-amqp-tool", "--list")
    assert done.returncode == 0
    assert {"aleph", "ftp_monitor", "aleph_link_export"} <= set(done.stdout.split())


@pytest.mark.slow
def test_old_script_daemonizes_serves_and_stops_with_its_own_pidfile(tmp_path: Path, vhost: str) -> None:
    state = tmp_path / "state"
    config = write_config(tmp_path / "a.ini", vhost, state, {"aleph": {}})
    env = {"EDEPOSIT_AMQPD_CONFIG": str(config)}
    script = BIN / "edeposit_amqp_alephdaemon.py"
    pidfile = state / "run" / "aleph.pid"
    started = run(script, "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        wait_for(lambda: queue_state(vhost, "daemon")[1] == 1, what="the daemonized worker to consume")
        pid = int(pidfile.read_text())
        assert os.getsid(pid) != os.getsid(0), "the daemon left the session of its caller"
        again = run(script, "start", env=env)
        assert again.returncode == 1 and "already running" in again.stderr
        with RPCClient(BROKER, vhost, "search", registry=StructureRegistry.from_modules([aleph])) as client:
            assert client.call(aleph.ISBNValidationRequest("80-251-0225-4")) == aleph.ISBNValidationResult(True)
    finally:
        stopped = run(script, "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not pidfile.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "consuming daemon on vhost" in (state / "log" / "aleph.log").read_text()
