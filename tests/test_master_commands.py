"""Master commands that must refuse or report clearly without starting anything."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest

from daemons.testing import BROKER, write_config
from orchestrator import cli

ECHO = {"handler": "tests.handlers.master_echo:react", "exchange": "echo"}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(config: Path, capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capfd.readouterr()
    code = cli.main(["-c", str(config), *args])
    out, err = capfd.readouterr()
    return code, out, err


def test_start_all_refuses_a_missing_vhost_and_names_schema_create(broker: object, tmp_path: Path,
                                                                   state_dir: Path,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    missing = f"edeposit-test-missing-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "a.ini", missing, state_dir, {"one": ECHO})
    code, _, err = run(config, capfd, "start-all")
    assert code == 1
    assert f"vhost '{missing}' (daemons: one) does not exist" in err
    assert f"edeposit-amqpd -c {config} schema create one" in err
    assert not (state_dir / "supervisord.pid").exists() and not (state_dir / "supervisor.sock").exists()


def test_start_all_refuses_when_no_broker_answers(tmp_path: Path, state_dir: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    config = write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO})
    config.write_text(config.read_text().replace(f"port = {BROKER.port}", f"port = {port}"))
    code, _, err = run(config, capfd, "start-all")
    assert code == 1
    assert f"no broker answers at {BROKER.host}:{port}" in err and "start RabbitMQ" in err
    assert not (state_dir / "supervisord.pid").exists()


def test_status_without_master_or_broker_still_lists_every_daemon_and_exits_3(
        tmp_path: Path, state_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    config = write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO, "two": ECHO})
    config.write_text(config.read_text().replace(f"port = {BROKER.port}", f"port = {port}"))
    code, out, _ = run(config, capfd, "status")
    assert code == 3
    assert "master: not running" in out and f"no broker answers at {BROKER.host}:{port}" in out
    code, out, err = run(config, capfd, "status", "--json")
    assert code == 3 and "master: not running" in err
    rows = json.loads(out)
    assert [(r["name"], r["state"], r["pid"], r["queue_depth"]) for r in rows] == [
        ("one", "STOPPED", None, None), ("two", "STOPPED", None, None)]
    assert {"name", "state", "pid", "pids", "uptime", "restarts", "exit_status", "last_error", "queue_depth",
            "consumers", "note"} <= set(rows[0])


def test_status_shows_a_handler_note(tmp_path: Path, state_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO})
    config.write_text(config.read_text().replace(f"port = {BROKER.port}", f"port = {closed_port()}"))
    (state_dir / "notes").mkdir()
    (state_dir / "notes" / "one.txt").write_text("clamd not found: apt-get install clamav-daemon\n")
    code, out, _ = run(config, capfd, "status")
    assert "    note: clamd not found: apt-get install clamav-daemon" in out
    code, out, _ = run(config, capfd, "status", "--json")
    assert json.loads(out)[0]["note"] == "clamd not found: apt-get install clamav-daemon"


def test_status_of_an_unknown_daemon_is_a_config_error(tmp_path: Path, state_dir: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO})
    code, _, err = run(config, capfd, "status", "nosuch")
    assert code == 2 and "no daemon named 'nosuch'" in err


def test_one_daemon_commands_and_reload_need_a_running_master(tmp_path: Path, state_dir: Path,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO})
    for command in (["start", "one"], ["stop", "one"], ["restart", "one"], ["reload"]):
        code, _, err = run(config, capfd, *command)
        assert code == 1, command
        assert "the master is not running" in err and f"edeposit-amqpd -c {config} start-all" in err
    code, out, _ = run(config, capfd, "stop-all")
    assert code == 0 and "not running" in out


def test_tail_prints_the_end_of_a_daemon_log_and_names_a_missing_one(tmp_path: Path, state_dir: Path,
                                                                     capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO, "two": {**ECHO, "processes": 2}})
    code, _, err = run(config, capfd, "tail", "one")
    assert code == 1 and f"no log for one yet in {state_dir / 'log'}" in err
    (state_dir / "log").mkdir()
    (state_dir / "log" / "one.log").write_text("".join(f"line {n}\n" for n in range(100)))
    code, out, _ = run(config, capfd, "tail", "one", "-n", "3")
    assert code == 0 and out == "line 97\nline 98\nline 99\n"
    for number in range(2):
        (state_dir / "log" / f"two-{number}.log").write_text(f"worker {number}\n")
    code, out, _ = run(config, capfd, "tail", "two")
    assert code == 0 and "worker 0" in out and "worker 1" in out and "two-1.log" in out
