"""Benchmark of the master with all twelve built-in daemons, each in its own throwaway vhost.

Measures: wall seconds from `edeposit-amqpd start-all` until every daemon consumes (ftp_monitor, which
consumes nothing, until it runs); RSS (and PSS, which counts shared pages once) of the master plus all
its children; respawn latency after kill -9 of a worker until its successor consumes (median of 10).
Goals: <= 3 s, <= 400 MB, <= 1.2 s.  Run: .venv/bin/python tests/bench/master_startup.py
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pika
import pika.exceptions

from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.testing import BROKER, throwaway_vhost, wait_for
from orchestrator.config import load
from orchestrator.control import MasterClient, MasterFiles

RESPAWNS = 10


def write_bench_config(path: Path, root: Path, vhosts: dict[str, str], user: str = "") -> Path:
    """Every built-in daemon with default settings, but in its own vhost and with files under `root`;
    `user`: who runs the daemons under a root master (default: the master's user)."""
    (root / "proftpd.log").touch()
    lines = ["[amqp]", f"host = {BROKER.host}", f"port = {BROKER.port}", "[orchestrator]",
             f"state_dir = {root / 'state'}", f"user = {user}", "[ftp]", f"passwd_file = {root / 'ftpd.passwd'}",
             f"home_root = {root / 'home'}", f"proftpd_pidfile = {root / 'proftpd.pid'}", "[daemons]"]
    for name in BUILTIN_DAEMONS:
        lines += [f"  [[{name}]]", f"  vhost = {vhosts[name]}"]
        if name == "ftp_monitor":
            lines.append(f"  log_file = {root / 'proftpd.log'}")
    path.write_text("\n".join(lines) + "\n")
    return path


class ConsumerProbe:
    """Consumer counts of input queues, over one open connection per vhost."""

    def __init__(self, queues: dict[str, tuple[str, str]]) -> None:
        self.queues = queues
        self.connections = {vhost: pika.BlockingConnection(BROKER.parameters(vhost, name="bench probe"))
                            for vhost, _ in queues.values()}

    def consumers(self, name: str) -> int:
        vhost, queue = self.queues[name]
        channel = self.connections[vhost].channel()
        try:
            count = channel.queue_declare(queue, passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        channel.close()
        return count

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


def family(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            todo += [int(child) for child in children]
    return found


def memory_kib(pid: int, field: str) -> int:
    source = f"/proc/{pid}/smaps_rollup" if field == "Pss:" else f"/proc/{pid}/status"
    for line in Path(source).read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def consuming_line_seen(log: Path, pid: int) -> bool:
    return f"[{pid}]: state connecting -> consuming" in log.read_text(errors="replace")


def consuming_logged_at(log: Path) -> float:
    """Wall-clock time of the first "consuming" line in a worker log (log times are local, in ms)."""
    for line in log.read_text(errors="replace").splitlines():
        if "state connecting -> consuming" in line:
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp()
    return float("inf")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="master-bench-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        vhosts = {name: stack.enter_context(throwaway_vhost(f"bench-{name}")) for name in BUILTIN_DAEMONS}
        config_path = write_bench_config(root / "amqpd.ini", root, vhosts)
        config = load(config_path)
        rpc = {d.name: (d.vhost, d.input_queue) for d in config.enabled if d.is_rpc}
        probe = ConsumerProbe(rpc)
        files = MasterFiles.for_config(config)
        client = MasterClient(files)
        command = [sys.executable, "-m", "orchestrator", "-c", str(config_path)]
        try:
            started, started_wall = time.monotonic(), time.time()
            start_all = subprocess.Popen([*command, "start-all"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for name in rpc:
                wait_for(lambda n=name: probe.consumers(n) >= 1, timeout=60, interval=0.02, what=f"{name} to consume")
            wait_for(lambda: client.is_running() and any(
                i["name"] == "ftp_monitor" and i["pid"] for i in client.processes()), timeout=60, interval=0.02)
            all_consuming = time.monotonic() - started
            output = start_all.communicate(timeout=120)[0].decode()
            start_all_returned = time.monotonic() - started
            print(output)
            print(f"start-all until all {len(config.enabled)} daemons consume: {all_consuming:.2f} s "
                  f"(start-all itself returned after {start_all_returned:.2f} s, exit {start_all.returncode})")
            logged = max(consuming_logged_at(files.daemon_logs(name, 1)[0]) for name in rpc)
            print(f"  per the workers' logs the last one consumed {logged - started_wall:.2f} s after start-all")

            pids = family(client.pid())
            rss = sum(memory_kib(pid, "VmRSS:") for pid in pids) / 1024
            pss = sum(memory_kib(pid, "Pss:") for pid in pids) / 1024
            print(f"memory of master + {len(pids) - 1} children: RSS {rss:.0f} MB, PSS {pss:.0f} MB")
            names = {i["pid"]: i["name"] for i in client.processes()} | {client.pid(): "supervisord"}
            heaviest = sorted(pids, key=lambda pid: -memory_kib(pid, "VmRSS:"))
            print("RSS per process (MB): " + ", ".join(
                f"{names.get(pid, pid)} {memory_kib(pid, 'VmRSS:') / 1024:.0f}" for pid in heaviest))

            latencies = []
            for name in list(rpc)[:RESPAWNS]:
                old = next(i["pid"] for i in client.processes() if i["group"] == name)
                os.kill(old, signal.SIGKILL)
                killed = time.monotonic()
                new = wait_for(lambda n=name, o=old: next(
                    (i["pid"] for i in client.processes() if i["group"] == n and i["pid"] not in (0, o)), None),
                    timeout=30, interval=0.01)
                log = files.daemon_logs(name, 1)[0]
                wait_for(lambda lg=log, p=new: consuming_line_seen(lg, p), timeout=30, interval=0.01)
                latencies.append(time.monotonic() - killed)
            print("respawn latencies after kill -9 (s): " + ", ".join(f"{x:.2f}" for x in latencies))
            print(f"respawn latency median of {len(latencies)}: {statistics.median(latencies):.2f} s")
        finally:
            probe.close()
            subprocess.run([*command, "stop-all"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
