"""`edeposit-amqpd top` in a real 80x24 terminal (tmux) against a real master under load; `q` ends it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.testing import publish, wait_for
from tests.test_master_lifecycle import Master
from tests.test_metrics_endpoint import body, rabbitmqctl_depth

pytestmark = pytest.mark.slow
NUMBER = r"\d+(?:\.\d+)?"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=20, check=True).stdout


@pytest.fixture
def terminal() -> Iterator[str]:
    name = f"edeposit-top-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, timeout=20)


def load(vhost: str, stop: threading.Event) -> None:
    """A steady stream of good and failing requests until stopped (bounded in count)."""
    for number in range(2000):
        if stop.wait(0.02):
            return
        text = f"fail {number}" if number % 4 == 0 else f"ok {number}"
        publish(vhost, "probe", "request", body(text), headers={"UUID": f"load-{number}"})


def test_top_shows_every_daemon_live_in_80x24_and_q_quits(probe_master: tuple[Master, int], vhost: str,
                                                         terminal: str, tmp_path: Path) -> None:
    master, port = probe_master
    assert master.run("start-all")[0] == 0
    [pid] = master.pids("probe")
    stop = threading.Event()
    sender = threading.Thread(target=load, args=(vhost, stop), daemon=True)
    sender.start()
    done = tmp_path / "top.exit"
    command = f"{shlex.quote(sys.executable)} -m orchestrator -c {shlex.quote(str(master.config))} top; " \
              f"echo $? > {shlex.quote(str(done))}"
    try:
        tmux("new-session", "-d", "-s", terminal, "-x", "80", "-y", "24", command)

        def busy_row() -> re.Match[str] | None:
            screen = tmux("capture-pane", "-p", "-t", terminal)
            return re.search(rf"^probe +RUNNING +{pid} +\S+ +(?P<rate>{NUMBER}) +(?P<errors>{NUMBER}) +"
                             rf"(?P<p50>{NUMBER}m?s) +(?P<p99>{NUMBER}m?s) +(?P<queue>\d+) +(?P<consumers>\d+)$",
                             screen, re.MULTILINE)

        row = wait_for(lambda: (m := busy_row()) and float(m["rate"]) > 0 and float(m["errors"]) > 0 and m,
                       timeout=30, what="a row with requests and errors per second")
        assert row["consumers"] == "1"
        screen = tmux("capture-pane", "-p", "-t", terminal).splitlines()
        assert len(screen) <= 24 and max(len(line) for line in screen) <= 80
        assert screen[0].startswith("edeposit-amqpd top")
        assert screen[1].split() == ["NAME", "STATE", "PID", "UP", "REQ/S", "ERR/S", "P50", "P99", "QUEUE", "CONS"]
        assert any(line.startswith("probe: ValueError in a request") for line in screen)
    finally:
        stop.set()
        sender.join(10)
    tmux("send-keys", "-t", terminal, "q")
    wait_for(done.exists, timeout=10, what="top to exit after q")
    assert done.read_text().strip() == "0"


def test_top_once_prints_one_frame_with_the_queue_the_broker_reports(probe_master: tuple[Master, int],
                                                                      vhost: str) -> None:
    master, _ = probe_master
    assert master.run("start-all")[0] == 0
    assert master.run("stop", "probe")[0] == 0
    for number in range(3):
        publish(vhost, "probe", "request", body(f"w{number}"), headers={"UUID": f"w{number}"})
    code, out, _ = master.run("top", "--once", "--interval", "0.2")
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith("probe ")]
    assert line.split()[1] == "STOPPED"
    assert line.split()[-2:] == [str(rabbitmqctl_depth(vhost, "probe_in")), "0"] == ["3", "0"]
    assert max(len(line) for line in out.splitlines()) <= 80
