"""Failover on a real three-node RabbitMQ cluster (tests/fixtures/cluster.py) that this module starts and
kills. The measured figures are printed (run with -s to see them; docs/deployment.rst quotes them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from daemons.common.processes import pid_alive
from daemons.rpc import topology
from daemons.rpc.nodes import connected_node
from daemons.rpc.settings import DaemonSettings
from daemons.testing import WorkerProcess, wait_for, write_config
from tests.fixtures.cluster import Cluster, Node

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

ECHO = {"handler": "tests.handlers.core_behaviours:react", "exchange": "echo", "input_queue": "echo_in",
        "output_queue": "echo_out"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("cluster")
    try:
        with Cluster(base) as started:
            yield started
    finally:
        shutil.rmtree(base, ignore_errors=True)  # about 150 MB of node data


@pytest.fixture
def cluster_vhost(cluster: Cluster) -> Iterator[str]:
    """A fresh vhost on a cluster whose three nodes all run (an earlier test may have killed one)."""
    cluster.heal()
    name = cluster.add_vhost()
    yield name
    cluster.heal()
    cluster.delete_vhost(name)


def connect(cluster: Cluster, node: Node, vhost: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(cluster.amqp([node]).parameters(vhost, name="cluster test client"))


def ping(text: str) -> bytes:
    return json.dumps({"text": text, "__nt_name": "Ping"}).encode()


class Stream:
    """Keeps `window` RPC requests in flight through one node and records every answer as it arrives."""

    def __init__(self, connection: pika.BlockingConnection, exchange: str, output_queue: str, window: int,
                 body: Callable[[str], bytes] = ping) -> None:
        self.connection = connection
        self.body = body
        self.channel = connection.channel()
        self.channel.confirm_delivery()
        self.exchange = exchange
        self.window = window
        self.sent: list[str] = []
        self.answers: list[tuple[float, str, bytes]] = []  # (monotonic time, UUID, body)
        self.answered: set[str] = set()
        self.channel.basic_consume(output_queue, self._on_answer, auto_ack=True)

    def _on_answer(self, channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        request = str((properties.headers or {}).get("UUID"))
        self.answers.append((time.monotonic(), request, body))
        self.answered.add(request)

    def top_up(self, total: int) -> None:
        while len(self.sent) < total and len(self.sent) - len(self.answered) < self.window:
            request = uuid.uuid4().hex
            self.channel.basic_publish(self.exchange, "request", self.body(request), pika.BasicProperties(
                content_type="application/json", delivery_mode=2, headers={"UUID": request}))
            self.sent.append(request)

    def longest_gap(self, after: float) -> float:
        """The longest time without a new answer, from `after` on: the outage a client sees."""
        times = [after] + [t for t, _, _ in self.answers if t > after]
        return max(b - a for a, b in zip(times, times[1:], strict=False)) if len(times) > 1 else float("inf")


def test_rpc_stream_on_quorum_queues_survives_kill_9_of_the_workers_node(cluster: Cluster, cluster_vhost: str,
                                                                          tmp_path: Path) -> None:
    total, kill_after = 2000, 500
    state_dir = tmp_path / "state"
    config = write_config(tmp_path / "amqpd.ini", cluster_vhost, state_dir, {"echo": {**ECHO, "queue_type": "quorum"}},
                          amqp=cluster.amqp())
    worker = WorkerProcess(config, "echo", tmp_path / "worker.log", log_level="INFO",
                           env={"PYTHONPATH": str(ROOT)})
    try:
        worker.wait_consuming()
        first = connected_node(state_dir, "echo", worker.pid)
        assert first == cluster.nodes[0].address  # the first node of [amqp] host answers
        doomed = cluster.node_at(first)
        survivor = cluster.nodes[-1]
        stream = Stream(connect(cluster, survivor, cluster_vhost), "echo", "echo_out", window=20)
        killed_at = consuming_again_at = None
        deadline = time.monotonic() + 120
        while len(stream.answered) < total:
            assert time.monotonic() < deadline, (
                f"{len(stream.answered)} of {total} answered in 120 s; killed {doomed.name} "
                f"{'after ' + str(kill_after) if killed_at else 'not yet'}; worker on "
                f"{connected_node(state_dir, 'echo', worker.pid)}; its log ends:\n{worker.log()[-3000:]}")
            stream.top_up(total)
            stream.connection.process_data_events(time_limit=0.05)
            if killed_at is None and len(stream.answered) >= kill_after:
                cluster.kill(doomed)
                killed_at = time.monotonic()
            if killed_at is not None and consuming_again_at is None:
                node = connected_node(state_dir, "echo", worker.pid)
                if node is not None and node != first:
                    consuming_again_at = time.monotonic()
        stream.connection.close()
    finally:
        worker.stop()
    assert killed_at is not None and consuming_again_at is not None
    assert stream.answered == set(stream.sent)
    duplicates = len(stream.answers) - len(stream.answered)
    assert all(body == ping(request).replace(b'"Ping"', b'"Pong"') for _, request, body in stream.answers)
    log = worker.log()
    assert f"at node {first}" in log
    again = log.split("state reconnecting -> consuming")[0]
    assert "broker connection failed" in again
    outage = stream.longest_gap(killed_at)
    print(f"\nquorum failover: {total} requests, all answered, {duplicates} duplicate answer(s) (same UUID); "
          f"worker consuming on another node {consuming_again_at - killed_at:.2f} s after kill -9 of {doomed.name}; "
          f"longest gap between answers {outage:.2f} s")
    assert outage < 30


def queue_length(connection: pika.BlockingConnection, queue: str) -> int | str:
    channel = connection.channel()
    try:
        return int(channel.queue_declare(queue, passive=True).method.message_count)
    except pika.exceptions.ChannelClosedByBroker as exc:
        return f"{exc.reply_code} {exc.reply_text}"


def publish_confirmed(connection: pika.BlockingConnection, exchange: str, count: int) -> int:
    """Publish `count` persistent requests (mandatory); the number the broker confirmed as routed."""
    channel = connection.channel()
    channel.confirm_delivery()
    confirmed = 0
    for _ in range(count):
        request = uuid.uuid4().hex
        try:
            channel.basic_publish(exchange, "request", ping(request), pika.BasicProperties(
                delivery_mode=2, headers={"UUID": request}), mandatory=True)
            confirmed += 1
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
            continue
    channel.close()
    return confirmed


def test_classic_queue_is_unavailable_while_its_node_is_down_and_loses_what_is_published_meanwhile(
        cluster: Cluster, cluster_vhost: str) -> None:
    home, other = cluster.nodes[0], cluster.nodes[1]
    settings = DaemonSettings(name="echo", handler="-", vhost=cluster_vhost, exchange="echo", input_queue="echo_in",
                              output_queue="echo_out", queue_type="classic")
    with connect(cluster, home, cluster_vhost) as connection:  # a classic queue lives where it was declared
        topology.declare(connection.channel(), settings)
    before = 100
    with connect(cluster, other, cluster_vhost) as connection:
        assert publish_confirmed(connection, "echo", before) == before
        assert queue_length(connection, "echo_in") == before
    cluster.kill(home)
    down_at = time.monotonic()
    with connect(cluster, other, cluster_vhost) as connection:
        while_down = queue_length(connection, "echo_in")
        during = 100
        confirmed_during = publish_confirmed(connection, "echo", during)
    cluster.restart(home)
    unavailable = time.monotonic() - down_at
    with connect(cluster, other, cluster_vhost) as connection:
        after = wait_for(lambda: queue_length(connection, "echo_in") if isinstance(
            queue_length(connection, "echo_in"), int) else None, timeout=30, what="the queue back")
    assert not isinstance(while_down, int), "the queue answered although its node was down"
    assert after == before, "persistent messages of a classic queue come back with their node"
    lost = during + before - after
    print(f"\nclassic queue on a killed node: declare from another node -> {while_down}; "
          f"{before} messages already queued were unavailable for {unavailable:.1f} s (until the node was back); "
          f"of {during} published meanwhile "
          f"(mandatory, confirmed) the broker accepted {confirmed_during}; {lost} never reached the queue")
    assert lost == during  # what would make classic queues safe here is not there: nothing reaches them


def running_process(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_masters_share_a_daemon_and_one_left_alone_serves_everything(
        cluster: Cluster, cluster_vhost: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    from orchestrator import cli
    from orchestrator.config import load
    from orchestrator.control import MasterClient, MasterFiles

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    markers = tmp_path / "markers"
    markers.mkdir()
    daemon = {"echo": {**ECHO, "queue_type": "quorum", "options": {"marker_dir": markers}}}
    orders = [cluster.nodes, [cluster.nodes[1], cluster.nodes[2], cluster.nodes[0]]]
    configs = [write_config(tmp_path / f"host{i}.ini", cluster_vhost, tmp_path / f"state{i}", daemon,
                            extra="startsecs = 1", amqp=cluster.amqp(order)) for i, order in enumerate(orders)]

    def run(config: Path, *args: str) -> tuple[int, str]:
        capfd.readouterr()
        code = cli.main(["-c", str(config), *args])
        return code, capfd.readouterr().out

    def status(config: Path) -> dict[str, Any]:
        code, out = run(config, "status", "--json")
        return {"code": code, **json.loads(out)[0]}

    clients = [MasterClient(MasterFiles.for_config(load(config))) for config in configs]
    seen: set[int] = set()
    try:
        for config in configs:
            assert run(config, "start-all")[0] == 0
        def both_consuming() -> list[dict[str, Any]] | None:
            rows = [status(config) for config in configs]
            ready = all(row["consumers"] == 2 and row["nodes"] and "-" not in row["nodes"] for row in rows)
            return rows if ready else None

        rows = wait_for(both_consuming, timeout=30, what="both masters' workers to consume")
        pids = [row["pids"] for row in rows]
        seen.update(pid for group in pids for pid in group)
        for client in clients:
            seen.update(info["pid"] for info in client.processes() if info["pid"])
        assert len(pids[0]) == len(pids[1]) == 1 and pids[0] != pids[1]  # each shows its own process
        assert [row["nodes"] for row in rows] == [[cluster.nodes[0].address], [cluster.nodes[1].address]]
        table = run(configs[1], "status")[1].splitlines()
        assert table[2].split()[-2:] == ["CONSUMERS", "NODE"]
        assert table[3].split()[-2:] == ["2", cluster.nodes[1].address]  # the shared queue's, this host's node

        served = share(cluster, cluster_vhost, 200)
        assert len(served) == 200
        served_by = {int(path.suffix[1:]) for path in markers.glob("slow-started.*")}
        assert served_by == set(pids[0]) | set(pids[1])  # both took a share

        children = {info["pid"] for info in clients[0].processes() if info["pid"]}
        os.kill(clients[0].pid(), signal.SIGKILL)
        orphans = [pid for pid in children if running_process(pid)]
        for pid in orphans:  # what an operator does after a crash: end what the dead master left
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not any(running_process(pid) for pid in children), timeout=10, what="the orphans gone")
        wait_for(lambda: status(configs[1])["consumers"] == 1, timeout=30, what="one consumer left")
        assert len(share(cluster, cluster_vhost, 200)) == 200
        assert status(configs[0])["code"] == 3 and status(configs[1])["code"] == 0
    finally:
        for config, client in zip(configs, clients, strict=True):
            if client.is_running():
                seen.update(info["pid"] for info in client.processes() if info["pid"])
                run(config, "stop-all")
        leftovers = [pid for pid in seen if pid_alive(pid) and running_process(pid)]
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"processes left running: {leftovers}"
    print(f"\ntwo masters: {len(orphans)} orphan(s) of the killed master ended by hand; the other answered all")


def share(cluster: Cluster, vhost: str, total: int) -> set[str]:
    """Send `total` requests through the last node; the set of UUIDs answered (all, or TimeoutError)."""
    stream = Stream(connect(cluster, cluster.nodes[-1], vhost), "echo", "echo_out", window=20,
                    body=lambda _: b'{"seconds": 0.005, "__nt_name": "Slow"}')
    deadline = time.monotonic() + 60
    while len(stream.answered) < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(stream.answered)} of {total} answered")
        stream.top_up(total)
        stream.connection.process_data_events(time_limit=0.05)
    stream.connection.close()
    assert stream.answered == set(stream.sent)
    return stream.answered


def amqp_peers(pid: int, ports: set[int]) -> set[int]:
    """The broker ports (of `ports`) that process `pid` has an established connection to."""
    own = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            own.add(target[len("socket:["):-1])
    peers = set()
    with open("/proc/net/tcp") as handle:
        for line in handle.readlines()[1:]:
            fields = line.split()
            port = int(fields[2].split(":")[1], 16)
            if fields[3] == "01" and fields[9] in own and port in ports:
                peers.add(port)
    return peers


def test_ftp_monitor_publishes_every_record_at_least_once_across_a_node_failover(
        cluster: Cluster, cluster_vhost: str, tmp_path: Path) -> None:
    """Black box: the monitor is a real `edeposit-amqpd worker ftp_monitor`; only its log file, its
    sockets and what reaches the broker are looked at."""
    from tests.fixtures.ftp_log import edeposit_record

    total, kill_after = 100_000, 30_000
    log_file = tmp_path / "extended.log"
    template = edeposit_record("STOR", "/home/ftp/alice/{:06d}-kniha.pdf", size=1234).decode()
    with open(log_file, "w", encoding="utf-8") as handle:
        handle.write("".join(template.format(n) + "\n" for n in range(total)))
    (tmp_path / "homes").mkdir()
    extra = (f"[ftp]\npasswd_file = {tmp_path / 'ftpd.passwd'}\nhome_root = {tmp_path / 'homes'}\n"
             f"proftpd_pidfile = {tmp_path / 'proftpd.pid'}")
    publishers = cluster.nodes[:-1]
    config = write_config(tmp_path / "amqpd.ini", cluster_vhost, tmp_path / "state", {"ftp_monitor": {
        "log_file": str(log_file), "log_format": "edeposit", "queue_type": "quorum",
        "options": {"events": "true", "start_at": "beginning", "batch_records": "2000"},
    }}, extra=extra, amqp=cluster.amqp(publishers, reconnect_max_delay=1.0))
    reader = connect(cluster, cluster.nodes[-1], cluster_vhost)  # sees everything, survives the failover
    channel = reader.channel()
    channel.exchange_declare("ftp", exchange_type="topic", durable=True)
    channel.queue_declare("seen", durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind("seen", "ftp", "event.#")
    first_body: dict[str, bytes] = {}
    messages = 0

    def on_message(ch: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        nonlocal messages
        messages += 1
        assert first_body.setdefault(properties.message_id, body) == body  # a re-send is the same record

    channel.basic_consume("seen", on_message, auto_ack=True)
    worker = WorkerProcess(config, "ftp_monitor", tmp_path / "monitor.log", log_level="INFO")
    ports = {node.port for node in publishers}
    killed: Node | None = None
    try:
        deadline = time.monotonic() + 150
        while len(first_body) < total:
            assert worker.process.poll() is None, worker.log()
            assert time.monotonic() < deadline, f"{len(first_body)} of {total} records arrived in time"
            reader.process_data_events(time_limit=0.05)
            if killed is None and len(first_body) >= kill_after:
                peers = amqp_peers(worker.pid, ports)
                assert len(peers) == 1, peers
                killed = next(n for n in cluster.nodes if n.port in peers)
                cluster.kill(killed)
                killed_at, records_at_kill = time.monotonic(), len(first_body)
        finished = time.monotonic()
        reader.process_data_events(time_limit=1)  # re-sends still on their way
        node_after = amqp_peers(worker.pid, ports)
    finally:
        worker.stop()
        if reader.is_open:
            reader.close()
    assert killed is not None
    assert node_after and killed.port not in node_after  # publishing through the other node now
    paths = [json.loads(body)["path"] for body in first_body.values()]
    assert paths == [f"/home/ftp/alice/{n:06d}-kniha.pdf" for n in range(total)]  # all, in order
    print(f"\nftp_monitor failover: {total:,} records, kill -9 of {killed.name} after {records_at_kill:,} arrived; "
          f"{messages:,} messages for {len(first_body):,} distinct records ({messages - len(first_body)} re-sent "
          f"with the same message_id); the last record arrived {finished - killed_at:.1f} s after the kill")


def test_rpc_client_and_status_fail_over_to_the_next_node(cluster: Cluster, cluster_vhost: str, tmp_path: Path) -> None:
    import threading

    from daemons.rpc.client import RPCClient
    from daemons.rpc.wire import StructureRegistry
    from orchestrator.broker_checks import queue_states
    from tests.handlers import core_behaviours

    markers = tmp_path / "markers"
    markers.mkdir()
    n1, n2, n3 = cluster.nodes
    daemon = {**ECHO, "queue_type": "quorum", "options": {"marker_dir": markers}}
    config = write_config(tmp_path / "amqpd.ini", cluster_vhost, tmp_path / "state", {"echo": daemon},
                          amqp=cluster.amqp([n2, n3, n1]))
    worker = WorkerProcess(config, "echo", tmp_path / "worker.log", log_level="INFO", env={"PYTHONPATH": str(ROOT)})
    outcome: dict[str, Any] = {}
    try:
        worker.wait_consuming()
        client = RPCClient(cluster.amqp(reconnect_max_delay=1.0), cluster_vhost, "echo",
                           registry=StructureRegistry.from_modules([core_behaviours]))
        assert client.node == n1.address

        def call() -> None:
            try:
                outcome["value"] = client.call(core_behaviours.Slow(1.0), timeout=60)
            except Exception as exc:  # reported by the assertion below
                outcome["error"] = exc

        caller = threading.Thread(target=call)
        caller.start()
        wait_for(lambda: list(markers.glob("slow-started.*")), what="the request in hand")
        cluster.kill(n1)  # the client's node; the worker (on n2) answers into a reply queue that is gone
        caller.join(60)
        assert outcome == {"value": "slept"}
        assert client.node == n2.address
        assert client.call(core_behaviours.Ping("again"), timeout=30) == core_behaviours.Pong("again")
        client.close()
        settings = load_settings(config)
        states = queue_states(cluster.amqp(), [settings])  # the first node is down: status asks the next
        assert states["echo"].consumers == 1
    finally:
        worker.stop()


def load_settings(config: Path) -> DaemonSettings:
    from orchestrator.config import load

    return load(config).daemon("echo")
