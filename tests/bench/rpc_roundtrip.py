"""RPC round trips through our worker against a bare pika echo worker, in the same run.

Both give the same guarantees (persistent reply, publisher confirm, manual ack after it, prefetch 1).
Runs alternate between the two, for windows of 1 and 20 requests in flight, and the medians are
compared. With --metrics, our worker also runs with metrics on (prometheus_client multiprocess files, as
under a master with `metrics_listen` set) in the same rounds, and the table adds its ratio to metrics off.
Prints a table; asserts nothing. Usage: python tests/bench/rpc_roundtrip.py [--rounds N] [--metrics]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pika

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.rpc.metrics import MULTIPROC_ENV  # noqa: E402
from daemons.testing import BROKER, WorkerProcess, queue_state, throwaway_vhost, wait_for, write_config  # noqa: E402

REQUEST = b'{"text": "hello", "__nt_name": "Ping"}'
DAEMON = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "bench",
    "input_queue": "bench_in",
    "output_queue": "bench_out",
}


def measure(vhost: str, window: int, total: int) -> float:
    """Round trips per second with `window` requests kept in flight."""
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="bench client"))
    channel = connection.channel()
    state = {"received": 0, "sent": 0}
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2, headers={"UUID": "b"})

    def send() -> None:
        channel.basic_publish("bench", "request", REQUEST, properties)
        state["sent"] += 1

    def on_reply(ch, method, props, body) -> None:  # noqa: ANN001
        state["received"] += 1
        if state["sent"] < total:
            send()

    channel.basic_consume("bench_out", on_reply, auto_ack=True)
    started = time.perf_counter()
    for _ in range(min(window, total)):
        send()
    while state["received"] < total:
        connection.process_data_events(time_limit=1)
    elapsed = time.perf_counter() - started
    connection.close()
    return total / elapsed


class Baseline:
    def __init__(self, vhost: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("echo_worker.py")), vhost, "bench", "bench_in", "result"],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--metrics", action="store_true", help="also measure our worker with metrics on")
    args = parser.parse_args()
    kinds = ["baseline", "ours"] + (["ours+metrics"] if args.metrics else [])
    with tempfile.TemporaryDirectory() as tmp, throwaway_vhost("edeposit-bench") as vhost:
        tmp_path = Path(tmp)
        config = write_config(tmp_path / "bench.ini", vhost, tmp_path / "state", {"bench": DAEMON})
        results: dict[tuple[str, int], list[float]] = {}
        declare = WorkerProcess(config, "bench", tmp_path / "declare.log")  # makes exchange, queues, bindings
        declare.wait_consuming()
        declare.stop()
        for round_number in range(args.rounds):
            for kind in kinds if round_number % 2 == 0 else kinds[::-1]:
                if kind.startswith("ours"):
                    metrics_dir = tmp_path / "metrics"
                    metrics_dir.mkdir(exist_ok=True)
                    env = {MULTIPROC_ENV: str(metrics_dir)} if kind == "ours+metrics" else None
                    runner = WorkerProcess(config, "bench", tmp_path / "worker.log", env=env, log_level="INFO")
                    runner.wait_consuming()
                else:
                    runner = Baseline(vhost)
                wait_for(lambda: queue_state(vhost, "bench_in")[1] == 1, what="one consumer")
                for window in (1, 20):
                    measure(vhost, window, 50)  # warm up
                    rate = measure(vhost, window, args.requests)
                    results.setdefault((kind, window), []).append(rate)
                runner.stop()
                wait_for(lambda: queue_state(vhost, "bench_in")[1] == 0, what="no consumer")
    extra = f" {'metrics on rt/s':>16} {'on/off':>7}" if args.metrics else ""
    print(f"{'window':>6} {'baseline rt/s':>14} {'ours rt/s':>10} {'ratio':>6}{extra}")
    for window in (1, 20):
        base = statistics.median(results[("baseline", window)])
        ours = statistics.median(results[("ours", window)])
        line = f"{window:>6} {base:>14.0f} {ours:>10.0f} {ours / base:>6.2f}"
        if args.metrics:
            on = statistics.median(results[("ours+metrics", window)])
            line += f" {on:>16.0f} {on / ours:>7.3f}"
        print(line)


if __name__ == "__main__":
    main()
