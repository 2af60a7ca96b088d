"""One owner per daemon: an old per-daemon script and the master never run the same daemon at once.

Whichever comes second refuses, naming the running pid and the command that stops it (real supervisord,
real broker, the installed old script).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.testing import queue_state, wait_for, write_config
from tests.test_master_lifecycle import Master

pytestmark = pytest.mark.slow
SCRIPT = Path(sys.executable).parent / "edeposit_amqp_alephdaemon.py"


@pytest.fixture
def master(vhost: str, state_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> Iterator[Master]:
    """A master for aleph in the test's vhost (not started yet); stopped, and checked for leftovers, after."""
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"aleph": {}}, extra="startsecs = 1")
    made = Master(config, capfd)
    yield made
    made.cleanup()


def old_script(master: Master, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDEPOSIT_AMQPD_CONFIG": str(master.config)}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=90, env=env)


def test_old_script_refuses_a_daemon_the_master_runs(master: Master, vhost: str) -> None:
    code, out, _ = master.run("start-all")
    assert code == 0, out
    [worker] = master.pids("aleph")
    for args in (("start",), ("start", "-f"), ("restart",)):
        refused = old_script(master, *args)
        assert refused.returncode == 1, args
        assert (f"aleph: already run by the edeposit-amqpd master (supervisord pid {master.client.pid()}, "
                f"worker pid {worker}); stop it there with `edeposit-amqpd -c {master.config} stop aleph` first"
                in refused.stderr), refused.stderr
    assert queue_state(vhost, "daemon")[1] == 1, "still the master's worker only"
    assert master.pids("aleph") == [worker]


def test_master_refuses_a_daemon_an_old_script_runs(master: Master, vhost: str, state_dir: Path) -> None:
    started = old_script(master, "start")
    assert started.returncode == 0, started.stderr
    try:
        wait_for(lambda: queue_state(vhost, "daemon")[1] == 1, 30, what="the old script's worker to consume")
        pid = int((state_dir / "run" / "aleph.pid").read_text())
        code, _, err = master.run("start-all")
        assert code == 1
        assert f"error: daemon aleph is already run by an old per-daemon script (pid {pid}" in err
        assert "stop it with `edeposit_amqp_alephdaemon.py stop`" in err
        assert f"or set `enabled = false` in [daemons] [[aleph]] of {master.config}" in err
        assert not master.client.is_running(), "start-all started no master"
    finally:
        assert old_script(master, "stop").returncode == 0


def test_master_start_refuses_a_daemon_an_old_script_took_over(master: Master, vhost: str,
                                                               state_dir: Path) -> None:
    assert master.run("start-all")[0] == 0
    assert master.run("stop", "aleph")[0] == 0
    started = old_script(master, "start")
    assert started.returncode == 0, started.stderr
    try:
        wait_for(lambda: queue_state(vhost, "daemon")[1] == 1, 30, what="the old script's worker to consume")
        pid = int((state_dir / "run" / "aleph.pid").read_text())
        for command in ("start", "restart"):
            code, _, err = master.run(command, "aleph")
            assert code == 1 and f"already run by an old per-daemon script (pid {pid}" in err, command
        assert master.status("aleph")[1]["aleph"]["state"] == "STOPPED"
        # Past the checks (as when both start at the same moment), the owner lock still stops the worker.
        master.client.supervisor.startProcessGroup("aleph", False)
        row = wait_for(lambda: (r := master.status("aleph")[1]["aleph"])["state"] == "FATAL" and r,
                       60, what="the master to give up on the refused worker")
        assert f"already run by an old per-daemon script (pid {pid}" in (row["last_error"] or ""), row
        assert queue_state(vhost, "daemon")[1] == 1
    finally:
        assert old_script(master, "stop").returncode == 0
    assert master.run("start", "aleph")[0] == 0, "once the script stopped, the master takes the daemon back"
