"""RPC round trips on a local three-node cluster: classic against quorum queues, our worker against a bare
pika echo worker on the same queues, in the same run.

Starts its own cluster (tests/fixtures/cluster.py) in a temp dir and removes it afterwards. The worker,
the echo baseline and the client all talk to the first node, which holds the classic queues and leads
the quorum queues (replicated to the two others). Windows of 1 and 20 requests in flight; medians of
alternating runs. Prints a table; asserts nothing.

    .venv/bin/python tests/bench/cluster_rpc.py [--rounds 3] [--requests 1000]
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

from daemons.rpc.settings import AMQPSettings  # noqa: E402
from daemons.testing import WorkerProcess, wait_for, write_config  # noqa: E402
from tests.fixtures.cluster import Cluster  # noqa: E402

REQUEST = b'{"text": "hello", "__nt_name": "Ping"}'


def daemon(queue_type: str) -> dict[str, str]:
    return {"handler": "tests.handlers.core_behaviours:react", "exchange": f"bench_{queue_type}",
            "input_queue": f"in_{queue_type}", "output_queue": f"out_{queue_type}", "queue_type": queue_type}


def consumers(amqp: AMQPSettings, vhost: str, queue: str) -> int:
    connection = pika.BlockingConnection(amqp.parameters(vhost, name="bench probe"))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.consumer_count)
    finally:
        connection.close()


def measure(amqp: AMQPSettings, vhost: str, queue_type: str, window: int, total: int) -> float:
    """Round trips per second with `window` requests kept in flight."""
    connection = pika.BlockingConnection(amqp.parameters(vhost, name="bench client"))
    channel = connection.channel()
    state = {"received": 0, "sent": 0}
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2, headers={"UUID": "b"})

    def send() -> None:
        channel.basic_publish(f"bench_{queue_type}", "request", REQUEST, properties)
        state["sent"] += 1

    def on_reply(ch, method, props, body) -> None:  # noqa: ANN001
        state["received"] += 1
        if state["sent"] < total:
            send()

    channel.basic_consume(f"out_{queue_type}", on_reply, auto_ack=True)
    started = time.perf_counter()
    for _ in range(min(window, total)):
        send()
    while state["received"] < total:
        connection.process_data_events(time_limit=1)
    elapsed = time.perf_counter() - started
    connection.close()
    return total / elapsed


class Baseline:
    def __init__(self, vhost: str, queue_type: str, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("echo_worker.py")), vhost, f"bench_{queue_type}",
             f"in_{queue_type}", "result", str(port)], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.process.stdout.readline()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    types = ("classic", "quorum")
    results: dict[tuple[str, str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, Cluster(Path(tmp) / "cluster") as cluster:
        tmp_path = Path(tmp)
        vhost = cluster.add_vhost("edeposit-bench")
        first = cluster.nodes[0]
        amqp = cluster.amqp([first])
        config = write_config(tmp_path / "bench.ini", vhost, tmp_path / "state",
                              {f"bench_{t}": daemon(t) for t in types}, amqp=amqp)
        for queue_type in types:  # the worker declares exchange, queues (of their type) and bindings
            declare = WorkerProcess(config, f"bench_{queue_type}", tmp_path / f"declare-{queue_type}.log")
            declare.wait_consuming()
            declare.stop()
        for round_number in range(args.rounds):
            for queue_type in types:
                kinds = ("baseline", "ours") if round_number % 2 == 0 else ("ours", "baseline")
                for kind in kinds:
                    runner: WorkerProcess | Baseline
                    if kind == "ours":
                        log = tmp_path / f"worker-{round_number}-{queue_type}.log"
                        runner = WorkerProcess(config, f"bench_{queue_type}", log, log_level="INFO")
                        runner.wait_consuming()
                    else:
                        runner = Baseline(vhost, queue_type, first.port)
                    queue = f"in_{queue_type}"
                    wait_for(lambda q=queue: consumers(amqp, vhost, q) == 1, what="one consumer")
                    for window in (1, 20):
                        measure(amqp, vhost, queue_type, window, 50)  # warm up
                        rate = measure(amqp, vhost, queue_type, window, args.requests)
                        results.setdefault((queue_type, kind, window), []).append(rate)
                    runner.stop()
                    wait_for(lambda q=queue: consumers(amqp, vhost, q) == 0, what="no consumer")
    print(f"RPC round trips per second on a 3-node cluster, {args.requests} requests, median of {args.rounds} runs")
    print(f"{'queues':>8} {'window':>6} {'baseline rt/s':>14} {'ours rt/s':>10} {'ours/base':>9} {'vs classic':>10}")
    for queue_type in types:
        for window in (1, 20):
            base = statistics.median(results[(queue_type, "baseline", window)])
            ours = statistics.median(results[(queue_type, "ours", window)])
            classic = statistics.median(results[("classic", "ours", window)])
            print(f"{queue_type:>8} {window:>6} {base:>14.0f} {ours:>10.0f} {ours / base:>9.2f} "
                  f"{ours / classic:>10.2f}")


if __name__ == "__main__":
    main()
