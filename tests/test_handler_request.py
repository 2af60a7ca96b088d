"""A handler learns the request it serves and publishes to another exchange of its vhost (real broker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.handler import current_request
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, bound_queue, read_messages, running_worker, write_config
from tests.handlers import request_aware as handler

DAEMON = {"handler": "tests.handlers.request_aware:react", "exchange": "asker", "input_queue": "asker_in",
          "output_queue": "asker_out"}


@pytest.fixture
def client(tmp_path: Path, vhost: str) -> Iterator[RPCClient]:
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"asker": DAEMON})
    with running_worker(config, "asker", tmp_path / "asker.log"):
        with RPCClient(BROKER, vhost, "asker", registry=StructureRegistry.from_modules([handler])) as rpc:
            yield rpc


def declare_exchange(vhost: str, name: str) -> None:
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="edeposit test declare"))
    try:
        connection.channel().exchange_declare(name, exchange_type="topic", durable=True)
    finally:
        connection.close()


def test_no_request_is_current_outside_react() -> None:
    assert current_request() is None


def test_handler_sees_the_uuid_and_keys_of_the_request_it_serves(client: RPCClient) -> None:
    assert client.call(handler.WhoAmI(), uuid='{"old": "json uuid"}') == handler.Served(
        '{"old": "json uuid"}', "request", "result")
    assert client.call(handler.WhoAmI(), uuid="second") == handler.Served("second", "request", "result")


def test_handler_publishes_to_another_exchange_of_its_vhost_with_the_request_uuid(client: RPCClient,
                                                                                   vhost: str) -> None:
    declare_exchange(vhost, "elsewhere")
    with bound_queue(vhost, "elsewhere", "note") as queue:
        assert client.call(handler.Forward("elsewhere", "note", {"n": 1}), uuid="u-42") == "forwarded"
        [(method, properties, body)] = read_messages(vhost, queue, 1)
    assert (method.exchange, method.routing_key, body) == ("elsewhere", "note", b'{"n": 1}')
    assert properties.headers == {"UUID": "u-42"}


def test_publishing_to_a_missing_exchange_is_an_error_answer_and_the_worker_goes_on(client: RPCClient) -> None:
    with pytest.raises(RemoteError) as raised:
        client.call(handler.Forward("no-such-exchange", "note", 1), uuid="u-1")
    assert raised.value.exception_name == "UnknownExchangeError"
    assert "'no-such-exchange'" in raised.value.exception and "NOT_FOUND" in raised.value.exception
    assert client.call(handler.WhoAmI(), uuid="after") == handler.Served("after", "request", "result")


def test_handler_publishes_straight_to_a_queue_through_the_default_exchange(client: RPCClient, vhost: str) -> None:
    with bound_queue(vhost, "amq.topic", "unused") as queue:
        assert client.call(handler.Forward("", queue, "direct"), uuid="u-7") == "forwarded"
        [(method, properties, body)] = read_messages(vhost, queue, 1)
    assert (method.exchange, method.routing_key, body, properties.headers) == ("", queue, b'"direct"', {"UUID": "u-7"})
