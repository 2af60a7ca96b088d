"""Benchmark of starting and stopping the master with all twelve built-in daemons.

Measures wall seconds of `edeposit-amqpd start-all` (until it returns, every daemon settled), of
`edeposit-amqpd stop-all`, and of `edeposit-amqpd run` stopped with SIGTERM (from the signal until the
process exits and no worker is left), each daemon in its own throwaway vhost.
Run: .venv/bin/python tests/bench/master_stop.py [ROUNDS] [--as-user]
With --as-user (root only) the daemons run as a throwaway system user (tests/fixtures/accounts.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from daemons.common.processes import pid_alive
from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.testing import throwaway_vhost, wait_for
from orchestrator.config import load
from orchestrator.control import MasterClient, MasterFiles
from tests.bench.master_startup import write_bench_config
from tests.fixtures.accounts import reachable_by_everyone, system_user, worker_paths


def _timed(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def _run_and_term(command: list[str], client: MasterClient, names: list[str]) -> float:
    """Seconds from SIGTERM to `run` until it and every worker it ran are gone."""
    master = subprocess.Popen([*command, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: client.is_running() and all(
            i["statename"] == "RUNNING" for i in client.processes() if i["group"] in names), timeout=90, interval=0.05)
        workers = [i["pid"] for i in client.processes() if i["pid"]]
        started = time.monotonic()
        master.send_signal(signal.SIGTERM)
        master.wait(120)
        wait_for(lambda: not any(pid_alive(pid) for pid in workers), timeout=60, interval=0.01)
        return time.monotonic() - started
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()


def main() -> int:
    args = [arg for arg in sys.argv[1:] if arg != "--as-user"]
    rounds = int(args[0]) if args else 3
    with tempfile.TemporaryDirectory(prefix="master-stop-bench-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        root.chmod(0o755)
        user = ""
        if "--as-user" in sys.argv:
            user = stack.enter_context(system_user(f"edbench{uuid.uuid4().hex[:6]}")).pw_name
            stack.enter_context(reachable_by_everyone(worker_paths()))
        vhosts = {name: stack.enter_context(throwaway_vhost(f"bench-{name}")) for name in BUILTIN_DAEMONS}
        config_path = write_bench_config(root / "amqpd.ini", root, vhosts, user)
        config = load(config_path)
        names = [d.name for d in config.enabled]
        client = MasterClient(MasterFiles.for_config(config))
        command = [sys.executable, "-m", "orchestrator", "-c", str(config_path)]
        env_note = f"master uid {os.geteuid()}, daemons as {user or 'the master'}, {len(names)} daemons"
        starts, stops, terms = [], [], []
        try:
            for _ in range(rounds):
                starts.append(_timed([*command, "start-all"]))
                stops.append(_timed([*command, "stop-all"]))
                terms.append(_run_and_term(command, client, names))
        finally:
            if client.is_running():
                subprocess.run([*command, "stop-all"], check=False, stdout=subprocess.DEVNULL)
        for label, values in (("start-all", starts), ("stop-all", stops), ("run + SIGTERM", terms)):
            shown = ", ".join(f"{v:.2f}" for v in values)
            print(f"{label:14s} median {statistics.median(values):.2f} s  ({shown}; {env_note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
