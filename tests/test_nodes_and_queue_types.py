"""A list of broker nodes in `[amqp] host`, the node each worker reports, and `queue_type` on the real broker."""

from __future__ import annotations

import shutil
import signal
import socket
from pathlib import Path
from types import SimpleNamespace

import pika
import pytest

from daemons.rpc import nodes, topology
from daemons.rpc.client import RPCClient
from daemons.rpc.poison import broker_says_poison, delivery_count
from daemons.rpc.settings import AMQPSettings, DaemonSettings, parse_nodes
from daemons.testing import BROKER, WorkerProcess, publish, queue_state, read_messages, write_config
from orchestrator import cli
from orchestrator.config import ConfigError, load
from orchestrator.status import DaemonStatus, Report, render_table

CORE = {"handler": "tests.handlers.core_behaviours:react", "exchange": "core", "input_queue": "core_in",
        "output_queue": "core_out"}


def dead_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_host_lists_every_node_in_order_with_its_own_or_the_default_port() -> None:
    assert parse_nodes("a:5673, b ,[::1]:5674, [fe80::1]", 5672) == [
        ("a", 5673), ("b", 5672), ("::1", 5674), ("fe80::1", 5672)]
    for bad in ("a:x", "a:0", "a:70000", " , ", ":5672"):
        with pytest.raises(ValueError):
            parse_nodes(bad, 5672)


def test_config_takes_a_node_list_and_names_a_bad_node(tmp_path: Path) -> None:
    path = tmp_path / "amqpd.ini"
    path.write_text("[amqp]\nhost = rabbit1:5673, rabbit2\nport = 5671\nssl = true\nqueue_type = quorum\n"
                    "[daemons]\n  [[aleph]]\n  queue_type = classic\n")
    config = load(path)
    parameters = config.amqp.node_parameters("v", name="x")
    assert [(p.host, p.port) for p in parameters] == [("rabbit1", 5673), ("rabbit2", 5671)]
    # TLS checks each node's certificate against that node's name.
    assert [p.ssl_options.server_hostname for p in parameters] == ["rabbit1", "rabbit2"]
    assert config.amqp.where == "rabbit1:5673, rabbit2:5671"
    assert config.daemons["aleph"].queue_type == "classic"  # its own
    assert config.daemons["pdfgen"].queue_type == "quorum"  # [amqp]'s, for every daemon
    path.write_text("[amqp]\nhost = rabbit1, rabbit2:http\n")
    with pytest.raises(ConfigError, match=r"\[amqp\] host = 'rabbit1, rabbit2:http': bad broker node 'rabbit2:http'"):
        load(path)
    path.write_text("[amqp]\nqueue_type = mirrored\n")
    with pytest.raises(ConfigError, match="queue_type"):
        load(path)


def test_open_first_skips_a_dead_node_and_says_which_answered(vhost: str) -> None:
    amqp = AMQPSettings(host=f"127.0.0.1:{dead_port()}, {BROKER.host}:{BROKER.port}")
    connection, node = nodes.open_first(amqp.node_parameters(vhost))
    try:
        assert connection.is_open
        assert nodes.label(node) == f"{BROKER.host}:{BROKER.port}"
    finally:
        connection.close()
    wrong = AMQPSettings(host=f"{BROKER.host}:{BROKER.port}, 127.0.0.1:{dead_port()}", password="not-guest")
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):  # not hidden behind the next node's error
        nodes.open_first(wrong.node_parameters(vhost))


def test_client_connects_to_the_first_node_that_answers(vhost: str) -> None:
    amqp = AMQPSettings(host=f"127.0.0.1:{dead_port()}, {BROKER.host}:{BROKER.port}")
    with RPCClient(amqp, vhost, "core") as client:
        assert client.node == f"{BROKER.host}:{BROKER.port}"


def test_broker_delivery_count_drives_the_poison_rule() -> None:
    first = SimpleNamespace(headers=None)
    third = SimpleNamespace(headers={"x-delivery-count": 2})
    assert delivery_count(first) == 0 and not broker_says_poison(first, 1)
    assert delivery_count(third) == 2 and broker_says_poison(third, 2) and not broker_says_poison(third, 3)


def test_status_shows_the_node_of_each_worker(tmp_path: Path) -> None:
    config = SimpleNamespace(source="x.ini", orchestrator=SimpleNamespace(state_dir=tmp_path, log_dir=tmp_path))
    report = Report([DaemonStatus("core", "RUNNING", True, pid=1, pids=[1, 2], consumers=2,
                                  nodes=["127.0.0.1:5672", "127.0.0.1:5673"])], master_pid=9)
    lines = render_table(config, report).splitlines()  # type: ignore[arg-type]
    assert lines[2].split()[-1] == "NODE"
    assert lines[3].split()[-1] == "127.0.0.1:5672,127.0.0.1:5673"


def settings_for(vhost: str, queue_type: str) -> DaemonSettings:
    return DaemonSettings(name="core", handler="-", vhost=vhost, exchange="core", input_queue="core_in",
                          output_queue="core_out", queue_type=queue_type)


@pytest.mark.parametrize(("existing", "wanted"), [("classic", "quorum"), ("quorum", "classic")])
def test_a_queue_of_the_other_type_is_a_clear_error(vhost: str, existing: str, wanted: str) -> None:
    connection = pika.BlockingConnection(BROKER.parameters(vhost))
    try:
        topology.declare(connection.channel(), settings_for(vhost, existing))
        with pytest.raises(topology.QueueTypeMismatch) as caught:
            topology.declare(connection.channel(), settings_for(vhost, wanted))
        topology.declare(connection.channel(), settings_for(vhost, existing))  # the same type stays fine
    finally:
        connection.close()
    text = str(caught.value)
    assert f"queue 'core_in' of vhost '{vhost}' is a {existing} queue" in text
    assert f"configured for queue_type = {wanted}" in text
    assert f"set queue_type = {existing}" in text
    assert f"rabbitmqctl delete_queue --vhost {vhost} core_in --if-empty" in text


def test_schema_create_declares_quorum_queues_and_refuses_to_change_a_type(
        tmp_path: Path, vhost: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "q.ini", vhost, tmp_path / "state", {"core": {**CORE, "queue_type": "quorum"}})
    assert cli.main(["-c", str(config), "schema", "create", "core"]) == 0
    assert "Created durable quorum queue 'core_in'." in capsys.readouterr().out
    connection = pika.BlockingConnection(BROKER.parameters(vhost))
    try:
        with pytest.raises(topology.QueueTypeMismatch, match="is a quorum queue"):
            topology.declare(connection.channel(), settings_for(vhost, "classic"))
    finally:
        connection.close()
    config.write_text(config.read_text().replace("queue_type = quorum", "queue_type = classic"))
    assert cli.main(["-c", str(config), "schema", "create", "core"]) == 1
    assert "is a quorum queue, but daemon core is configured for queue_type = classic" in capsys.readouterr().err


@pytest.mark.slow
def test_worker_reports_its_node_and_exits_on_a_queue_of_the_other_type(tmp_path: Path, vhost: str) -> None:
    amqp = AMQPSettings(host=f"127.0.0.1:{dead_port()}, {BROKER.host}:{BROKER.port}")
    config = write_config(tmp_path / "a.ini", vhost, tmp_path / "state", {"core": CORE}, amqp=amqp)
    worker = WorkerProcess(config, "core", tmp_path / "worker.log")
    try:
        worker.wait_consuming()
        assert nodes.connected_node(tmp_path / "state", "core", worker.pid) == f"{BROKER.host}:{BROKER.port}"
        assert f"at node {BROKER.host}:{BROKER.port}" in worker.log()
    finally:
        worker.stop()
    assert nodes.connected_node(tmp_path / "state", "core", worker.pid) is None  # gone with the connection
    config.write_text(config.read_text().replace("output_queue = core_out", "output_queue = core_out\n"
                                                 "  queue_type = quorum"))
    mismatched = WorkerProcess(config, "core", tmp_path / "mismatch.log")
    try:
        assert mismatched.process.wait(30) != 0
    finally:
        mismatched.stop()
    assert "queue 'core_in' of vhost" in mismatched.log() and "is a classic queue" in mismatched.log()


@pytest.mark.slow
def test_on_quorum_queues_the_broker_count_finds_poison_that_no_local_record_saw(tmp_path: Path, vhost: str) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    daemon = {**CORE, "queue_type": "quorum", "delivery_limit": 2, "options": {"marker_dir": markers}}
    config = write_config(tmp_path / "q.ini", vhost, tmp_path / "state", {"core": daemon})
    for attempt in range(3):
        worker = WorkerProcess(config, "core", tmp_path / f"worker{attempt}.log")
        try:
            if attempt == 0:
                worker.wait_consuming()
                publish(vhost, "core", "request", b'{"__nt_name": "Die"}', {"UUID": "poison"})
            if attempt < 2:
                assert worker.process.wait(30) == -signal.SIGKILL
                # As if the next attempt ran on another host: no local trace of this death is left.
                shutil.rmtree(tmp_path / "state" / "inflight", ignore_errors=True)
            else:
                worker.wait_consuming()
                [(_, properties, body)] = read_messages(vhost, "core_out", 1)
        finally:
            worker.stop()
    assert len(list(markers.glob("dying.*"))) == 2
    assert properties.headers["UUID"] == "poison"
    assert properties.headers["exception_name"] == "PoisonMessageError"
    assert queue_state(vhost, "core_in") == (0, 0)


def test_a_node_report_left_by_a_killed_process_is_not_shown_for_a_new_one_with_its_pid(tmp_path: Path) -> None:
    import os
    import time

    nodes.NodeReport(tmp_path, "core", pid=4242).connected("rabbit1:5672")
    assert nodes.connected_node(tmp_path, "core", 4242) == "rabbit1:5672"
    written = (tmp_path / "nodes" / "core" / "4242").stat().st_mtime
    assert nodes.connected_node(tmp_path, "core", 4242, started=written - 1) == "rabbit1:5672"
    os.utime(tmp_path / "nodes" / "core" / "4242", (written - 60, written - 60))
    assert nodes.connected_node(tmp_path, "core", 4242, started=time.time() - 5) is None
    nodes.NodeReport(tmp_path, "core", pid=4242).disconnected()
    assert nodes.connected_node(tmp_path, "core", 4242) is None
