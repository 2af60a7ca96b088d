"""Advice the operator can paste: every suggested command repeats the `-c FILE` in use, and `-c` works
before the command and after it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from daemons.testing import BROKER, write_config
from orchestrator import cli
from tests.test_master_commands import ECHO, closed_port
from tests.test_master_lifecycle import echo_daemon, make_master  # noqa: F401 - fixture


def run(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capfd.readouterr()
    code = cli.main(list(args))
    out, err = capfd.readouterr()
    return code, out, err


def unreachable_config(tmp_path: Path, state_dir: Path) -> Path:
    config = write_config(tmp_path / "my config.ini", "vh", state_dir, {"one": ECHO})
    config.write_text(config.read_text().replace(f"port = {BROKER.port}", f"port = {closed_port()}"))
    return config


def test_config_option_works_before_and_after_the_command(tmp_path: Path, state_dir: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    config = unreachable_config(tmp_path, state_dir)
    before = run(capfd, "-c", str(config), "status", "--json")
    after = run(capfd, "status", "--json", "-c", str(config))
    assert before[0] == after[0] == 3
    assert before[1] == after[1] and '"name": "one"' in after[1]
    assert run(capfd, "status", "--config", str(config))[1].startswith(f"config: {config}\n")
    code, out, _ = run(capfd, "check-config", "-c", str(config))
    assert code == 0 and out.startswith(f"{config}: OK")
    code, _, err = run(capfd, "tail", "calibr", "-c", str(config))
    assert code == 2 and f"{config}: no daemon named 'calibr' (did you mean calibre?)" in err
    code, _, err = run(capfd, "schema", "create", "-c", str(tmp_path / "missing.ini"), "one")
    assert code == 2 and f"{tmp_path / 'missing.ini'}: config file not found" in err


def test_the_console_script_takes_the_option_after_the_command(tmp_path: Path, state_dir: Path) -> None:
    config = unreachable_config(tmp_path, state_dir)
    env = {k: v for k, v in os.environ.items() if k != "EDEPOSIT_AMQPD_CONFIG"}
    done = subprocess.run([sys.executable, "-m", "orchestrator", "tail", "one", "-c", str(config)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and f"no log for one yet in {state_dir / 'log'}" in done.stderr


def test_advice_without_a_master_repeats_the_config(tmp_path: Path, state_dir: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    config = unreachable_config(tmp_path, state_dir)
    quoted = f"'{config}'"  # the path has a space: quoted as a shell would need it
    _, out, _ = run(capfd, "status", "-c", str(config))
    assert f"master: not running (start it with `edeposit-amqpd -c {quoted} start-all`)" in out
    code, _, err = run(capfd, "restart", "one", "-c", str(config))
    assert code == 1 and f"run `edeposit-amqpd -c {quoted} start-all`" in err


def test_start_all_names_schema_create_with_the_config(broker: object, tmp_path: Path, state_dir: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    missing = f"edeposit-test-missing-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "a.ini", missing, state_dir, {"one": ECHO})
    code, _, err = run(capfd, "start-all", "-c", str(config))
    assert code == 1
    assert f"run `edeposit-amqpd -c {config} schema create one`" in err
    assert f"(or `edeposit-amqpd -c {config} schema create all` to create every vhost)" in err


def test_start_all_output_names_tail_with_the_config(make_master: Any) -> None:  # noqa: F811
    # startsecs = 8: a busy machine may take seconds to reach the failing import, which must come first.
    master = make_master({"broken": {**echo_daemon(1), "handler": "tests.handlers.master_broken:react"},
                          "fine": echo_daemon(2)}, extra="startsecs = 8\nstartretries = 0")
    code, _, err = master.run("start-all")
    assert code == 1
    assert f"not running: broken (see `edeposit-amqpd -c {master.config} tail NAME`)" in err
    code, out, _ = master.run("start-all")
    assert code == 0
    assert f"nothing changed (to apply an edited config: `edeposit-amqpd -c {master.config} reload`)" in out
    code, _, err = master.run("start", "nosuch")
    assert code == 2 and "no daemon named 'nosuch'" in err


def test_a_relative_config_path_is_suggested_as_an_absolute_one(tmp_path: Path, state_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    config = unreachable_config(tmp_path, state_dir)
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(capfd, "status", "-c", config.name)
    assert f"(start it with `edeposit-amqpd -c '{config}' start-all`)" in out
