"""The chaos suite's server side: a real master driven through the CLI, and the faults done to it.

Every process the master ever ran is remembered, so the test can prove none outlived it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from daemons.common.processes import pid_alive
from orchestrator.config import load
from orchestrator.control import MasterClient, MasterFiles
from tests.chaos.traffic import CLIENT_PREFIX

ROOT = Path(__file__).resolve().parents[2]


class Fleet:
    """One test's master: `edeposit-amqpd -c CONFIG ...` as child processes, and what it spawned."""

    def __init__(self, config: Path, daemon: str, processes: int) -> None:
        self.config = config
        self.daemon = daemon
        self.process_count = processes
        self.files = MasterFiles.for_config(load(config))
        self.client = MasterClient(self.files)
        self.seen: set[int] = set()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the workers import tests.handlers

    def cli(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestrator", "-c", str(self.config), *args],
                              capture_output=True, text=True, env=self.env, timeout=timeout)

    def start_all(self) -> None:
        done = self.cli("start-all")
        assert done.returncode == 0, f"start-all failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        self.master_pid()

    def master_pid(self) -> int:
        pid = self.client.pid()
        self.seen.add(pid)
        return pid

    def processes(self) -> list[dict[str, Any]]:
        """supervisord's process table; every pid in it is remembered."""
        table = self.client.processes()
        self.seen |= {info["pid"] for info in table if info["pid"]}
        return table

    def worker_pids(self) -> list[int]:
        return sorted(info["pid"] for info in self.processes() if info["group"] == self.daemon and info["pid"])

    def kill_master(self) -> set[int]:
        """SIGKILL supervisord; returns the processes it left without a parent."""
        children = {info["pid"] for info in self.processes() if info["pid"]}
        os.kill(self.master_pid(), signal.SIGKILL)
        return children

    def log_tail(self, lines: int = 15) -> str:
        """The end of each worker's log, for a failing scenario's message."""
        parts = []
        for log in self.files.daemon_logs(self.daemon, self.process_count):
            text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def alive(self) -> list[int]:
        return sorted(pid for pid in self.seen if pid_alive(pid))

    def shutdown(self, grace: float = 15.0) -> list[int]:
        """stop-all, then kill whatever still lives after `grace` s; returns what had to be killed.

        stop-all returns once supervisord has answered that it stops, which it does before it exits.
        """
        if self.client.is_running():
            self.processes()
            self.cli("stop-all")
        deadline = time.monotonic() + grace
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        leftovers = self.alive()
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        return leftovers


def daemon_connections(vhost: str) -> list[str]:
    """Broker pids of the connections in `vhost` that are not the test's own clients."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "vhost", "client_properties"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    found = []
    for line in listing.splitlines():
        pid, connection_vhost, properties = (line.split("\t", 2) + ["", ""])[:3]
        if connection_vhost == vhost and CLIENT_PREFIX not in properties and "edeposit test" not in properties:
            found.append(pid)
    return found


def close_connections(pids: list[str]) -> None:
    """Close them all at once (one rabbitmqctl each, side by side), as a broker restart would."""
    closing = [subprocess.Popen(["rabbitmqctl", "-q", "close_connection", pid, "closed by the chaos test"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for pid in pids]
    failed = [(pid, p.communicate(timeout=60)[1]) for pid, p in zip(pids, closing, strict=True)]
    failed = [(pid, err) for (pid, err), p in zip(failed, closing, strict=True) if p.returncode]
    assert not failed, f"rabbitmqctl close_connection failed: {failed}"
