"""RPC round trips through our worker, a bare pika echo worker (the baseline), nameko and Celery, in one run.

Every peer is one process with the same guarantees: prefetch 1, a persistent reply confirmed by the
broker, the request acked after the work. The same pika client drives all of them, speaking each one's
wire format, so the differences are the workers'. Runs alternate the peers' order (rounds rotate who goes
first), for windows of 1 and 20 requests in flight; medians are compared with the baseline's, both for
round trips per second and for the worker process's CPU time (user + sys from /proc/PID/stat) per
message.

`pika-thread` is a second bare pika worker built like ours (one connection owner, one handler thread,
tests/bench/thread_echo_worker.py): the price of that model alone. Our worker runs twice: `ours`
answers Ping on its handler thread (what any handler gets), `ours-inline` answers QuickPing, which the
handler declares INLINE (served on the connection's own thread, daemons/rpc/handler.py). With
--metrics, our worker also runs with metrics on (prometheus_client multiprocess files, as under a
master with `metrics_listen` set) as the peer `ours+metrics`, in the same rounds. Prints a table;
asserts nothing.

Usage: python tests/bench/rpc_roundtrip.py [--rounds 7] [--requests 1000] [--peers baseline,ours,...]
[--metrics] [--peer-timeout 120]
A measurement that has not finished within --peer-timeout seconds (Celery's rpc:// backend has been seen
answering 2 round trips a second for minutes) leaves that peer's round out, with a note, and the run
goes on; the table counts such rounds per peer.
nameko and Celery come with the `bench` extra (pip install -e '.[bench]'); a peer not installed is left
out with a note.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.rpc.metrics import MULTIPROC_ENV  # noqa: E402
from daemons.testing import BROKER, WorkerProcess, queue_state, throwaway_vhost, wait_for, write_config  # noqa: E402

HERE = Path(__file__).resolve().parent
WINDOWS = (1, 20)
WARM_UP = 50
DAEMON = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "bench",
    "input_queue": "bench_in",
    "output_queue": "bench_out",
}


class Wire:
    """How one peer is asked and how it answers: the client side of its protocol."""

    exchange = ""
    routing_key = ""
    queue = ""  # the peer's request queue (one consumer on it = the peer is up)

    def reply_queue(self, channel: Any) -> str:
        """A private reply queue for one measurement; the broker names it and drops it with the connection."""
        return channel.queue_declare("", exclusive=True).method.queue

    def request(self, seq: int, reply_to: str) -> tuple[bytes, pika.BasicProperties]:
        raise NotImplementedError

    def answer(self, properties: pika.BasicProperties, body: bytes) -> int:
        """The seq a reply answers; raises when the reply is not a correct echo."""
        raise NotImplementedError


class EdepositWire(Wire):
    """Ours and the baseline: the edeposit wire, answers on the daemon's output queue."""

    exchange, routing_key, queue = "bench", "request", "bench_in"

    def __init__(self, structure: str = "Ping") -> None:
        self.structure = structure  # QuickPing: an INLINE structure of the handler, served on the owner thread

    def reply_queue(self, channel: Any) -> str:
        return "bench_out"

    def request(self, seq: int, reply_to: str) -> tuple[bytes, pika.BasicProperties]:
        body = json.dumps({"text": str(seq), "__nt_name": self.structure}).encode()
        return body, pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                          headers={"UUID": str(seq)})

    def answer(self, properties: pika.BasicProperties, body: bytes) -> int:
        seq = (properties.headers or {}).get("UUID", "")
        if json.loads(body)["text"] != seq:  # ours answers Pong(text), the baseline echoes the Ping
            raise ValueError(f"wrong answer {body!r} to {seq!r}")
        return int(seq)


class NamekoWire(Wire):
    """nameko's RPC: request to the nameko-rpc exchange, reply to that exchange with reply_to as key."""

    exchange, routing_key, queue = "nameko-rpc", "echo.echo", "rpc-echo"

    def reply_queue(self, channel: Any) -> str:
        name = super().reply_queue(channel)
        channel.queue_bind(name, "nameko-rpc", name)
        return name

    def request(self, seq: int, reply_to: str) -> tuple[bytes, pika.BasicProperties]:
        body = json.dumps({"args": [seq], "kwargs": {}}).encode()
        return body, pika.BasicProperties(content_type="application/json", delivery_mode=2, reply_to=reply_to,
                                          correlation_id=str(seq))

    def answer(self, properties: pika.BasicProperties, body: bytes) -> int:
        reply = json.loads(body)
        if reply.get("error") or str(reply["result"]) != properties.correlation_id:
            raise ValueError(f"wrong answer {body!r} to {properties.correlation_id!r}")
        return int(reply["result"])


class CeleryWire(Wire):
    """Celery's task message protocol 2 on the default `celery` queue; the rpc:// backend replies."""

    exchange, routing_key, queue = "", "celery", "celery"

    def request(self, seq: int, reply_to: str) -> tuple[bytes, pika.BasicProperties]:
        task_id = f"{seq}-{uuid.uuid4()}"
        headers = {"lang": "py", "task": "echo", "id": task_id, "root_id": task_id, "parent_id": None,
                   "group": None, "retries": 0, "eta": None, "expires": None, "timelimit": [None, None],
                   "argsrepr": f"({seq},)", "kwargsrepr": "{}", "origin": "bench"}
        embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
        body = json.dumps([[seq], {}, embed]).encode()
        return body, pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                          delivery_mode=2, headers=headers, reply_to=reply_to,
                                          correlation_id=task_id)

    def answer(self, properties: pika.BasicProperties, body: bytes) -> int:
        reply = json.loads(body)
        if reply["status"] != "SUCCESS" or not properties.correlation_id.startswith(f"{reply['result']}-"):
            raise ValueError(f"wrong answer {body!r} to {properties.correlation_id!r}")
        return int(reply["result"])


class Stalled(Exception):
    """A peer did not finish a measurement in the time allowed."""


def measure(vhost: str, wire: Wire, window: int, total: int, timeout: float) -> float:
    """Round trips per second with `window` requests kept in flight; every answer is checked."""
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="bench client"))
    channel = connection.channel()
    reply_to = wire.reply_queue(channel)
    outstanding: set[int] = set()
    state = {"received": 0, "sent": 0}

    def send() -> None:
        body, properties = wire.request(state["sent"], reply_to)
        channel.basic_publish(wire.exchange, wire.routing_key, body, properties)
        outstanding.add(state["sent"])
        state["sent"] += 1

    def on_reply(ch: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        seq = wire.answer(properties, body)
        if seq not in outstanding:
            raise ValueError(f"answer to {seq}, which is not in flight")
        outstanding.discard(seq)
        state["received"] += 1
        if state["sent"] < total:
            send()

    channel.basic_consume(reply_to, on_reply, auto_ack=True)
    started = time.perf_counter()
    for _ in range(min(window, total)):
        send()
    deadline = started + timeout
    while state["received"] < total:
        if time.perf_counter() > deadline:
            connection.close()
            raise Stalled(f"{state['received']} of {total} answers in {timeout:g} s")
        connection.process_data_events(time_limit=1)
    elapsed = time.perf_counter() - started
    connection.close()
    return total / elapsed


def purge(vhost: str, wire: Wire) -> None:
    """Drop what a stalled peer left behind, so the next peer gets no stale requests or answers."""
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="bench purge"))
    try:
        channel = connection.channel()
        for queue in dict.fromkeys([wire.queue, wire.reply_queue(channel)]):
            channel.queue_purge(queue)
    finally:
        connection.close()


def consumers(vhost: str, queue: str, count: int) -> bool:
    """Whether `queue` has `count` consumers (a queue not declared yet has none)."""
    return max(queue_state(vhost, queue)[1], 0) == count


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Peer:
    """A peer's worker as a child process."""

    def __init__(self, command: list[str], log: Path) -> None:
        self._log = log.open("ab")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)})

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


class Ours:
    def __init__(self, config: Path, log: Path, metrics_dir: Path | None = None) -> None:
        env = None
        if metrics_dir is not None:
            metrics_dir.mkdir(exist_ok=True)
            env = {MULTIPROC_ENV: str(metrics_dir)}
        self.worker = WorkerProcess(config, "bench", log, env=env, log_level="INFO")
        self.worker.wait_consuming()
        self.pid = self.worker.pid

    def stop(self) -> None:
        self.worker.stop()


@dataclass(frozen=True)
class Kind:
    name: str
    wire: Wire
    start: Callable[[str, Path, Path], Any]  # (vhost, config, tmp) -> a running peer with .pid and .stop()
    needs: str | None = None  # the module the peer imports, when it is a bench extra


KINDS = [
    Kind("baseline", EdepositWire(),
         lambda vhost, config, tmp: Peer([sys.executable, str(HERE / "echo_worker.py"), vhost, "bench", "bench_in",
                                          "result"], tmp / "baseline.log")),
    Kind("pika-thread", EdepositWire(),
         lambda vhost, config, tmp: Peer([sys.executable, str(HERE / "thread_echo_worker.py"), vhost, "bench",
                                          "bench_in", "result"], tmp / "pika-thread.log")),
    Kind("ours", EdepositWire(), lambda vhost, config, tmp: Ours(config, tmp / "ours.log")),
    Kind("ours-inline", EdepositWire("QuickPing"), lambda vhost, config, tmp: Ours(config, tmp / "ours-inline.log")),
    Kind("ours+metrics", EdepositWire(),
         lambda vhost, config, tmp: Ours(config, tmp / "ours-metrics.log", metrics_dir=tmp / "metrics")),
    Kind("nameko", NamekoWire(),
         lambda vhost, config, tmp: Peer([sys.executable, str(HERE / "peers" / "nameko_echo.py"), vhost],
                                         tmp / "nameko.log"), needs="nameko"),
    Kind("celery", CeleryWire(),
         lambda vhost, config, tmp: Peer([sys.executable, str(HERE / "peers" / "celery_echo.py"), vhost],
                                         tmp / "celery.log"), needs="celery"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--peers", default=",".join(kind.name for kind in KINDS if kind.name != "ours+metrics"))
    parser.add_argument("--metrics", action="store_true", help="also measure our worker with metrics on")
    parser.add_argument("--peer-timeout", type=float, default=120.0,
                        help="seconds one measurement may take before that peer's round is left out")
    args = parser.parse_args()
    chosen = args.peers.split(",") + (["ours+metrics"] if args.metrics else [])
    kinds = []
    for kind in KINDS:
        if kind.name not in chosen:
            continue
        if kind.needs and importlib.util.find_spec(kind.needs) is None:
            print(f"note: {kind.name} left out: {kind.needs} is not installed (pip install -e '.[bench]')")
            continue
        kinds.append(kind)
    rates: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    stalled: dict[str, int] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, throwaway_vhost("edeposit-bench") as vhost:
        tmp_path = Path(tmp)
        config = write_config(tmp_path / "bench.ini", vhost, tmp_path / "state", {"bench": DAEMON})
        Ours(config, tmp_path / "declare.log").stop()  # declares the exchange, queues and bindings
        for round_number in range(args.rounds):
            shift = round_number % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                peer = kind.start(vhost, config, tmp_path)
                measured: dict[int, tuple[float, float]] = {}
                purge_after = False
                try:
                    wait_for(functools.partial(consumers, vhost, kind.wire.queue, 1), timeout=30,
                             what=f"{kind.name} to consume")
                    for window in WINDOWS:
                        measure(vhost, kind.wire, window, WARM_UP, args.peer_timeout)
                        before = cpu_seconds(peer.pid)
                        rate = measure(vhost, kind.wire, window, args.requests, args.peer_timeout)
                        measured[window] = (rate, (cpu_seconds(peer.pid) - before) / args.requests)
                except Stalled as exc:
                    stalled[kind.name] = stalled.get(kind.name, 0) + 1
                    print(f"note: {kind.name} stalled in round {round_number + 1} ({exc}); that round is left out",
                          flush=True)
                    measured = {}
                    purge_after = True
                finally:
                    peer.stop()
                wait_for(functools.partial(consumers, vhost, kind.wire.queue, 0), what=f"{kind.name} to stop")
                if purge_after:
                    purge(vhost, kind.wire)
                for window, (rate, per_message) in measured.items():
                    rates.setdefault((kind.name, window), []).append(rate)
                    cpu.setdefault((kind.name, window), []).append(per_message)
    load_after = os.getloadavg()
    print(f"{args.rounds} rounds x {args.requests} requests per window; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; {os.cpu_count()} CPUs")
    print(f"{'peer':<13} {'window':>6} {'rt/s':>7} {'ratio':>6} {'CPU us/msg':>11} {'CPU ratio':>9} {'stalled':>7}  "
          f"rt/s per round")
    for window in WINDOWS:
        base_rate = statistics.median(rates[("baseline", window)]) if ("baseline", window) in rates else None
        base_cpu = statistics.median(cpu[("baseline", window)]) if ("baseline", window) in cpu else None
        for kind in kinds:
            if (kind.name, window) not in rates:
                print(f"{kind.name:<13} {window:>6} {'-':>7} {'-':>6} {'-':>11} {'-':>9} {stalled[kind.name]:>7}")
                continue
            rate = statistics.median(rates[(kind.name, window)])
            per_message = statistics.median(cpu[(kind.name, window)])
            ratio = f"{rate / base_rate:.2f}" if base_rate else "-"
            cpu_ratio = f"{per_message / base_cpu:.2f}" if base_cpu else "-"
            rounds = " ".join(f"{r:.0f}" for r in rates[(kind.name, window)])
            print(f"{kind.name:<13} {window:>6} {rate:>7.0f} {ratio:>6} {per_message * 1e6:>11.0f} {cpu_ratio:>9} "
                  f"{stalled.get(kind.name, 0):>7}  {rounds}")


if __name__ == "__main__":
    main()
