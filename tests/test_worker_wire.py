"""The worker against a real broker: the old wire format, error responses, routing and progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import (
    BROKER,
    bound_queue,
    publish,
    purge,
    read_messages,
    running_worker,
    throwaway_vhost,
    write_config,
)
from tests.fixtures.wire_files import WIRE
from tests.handlers import core_behaviours as core

CORE = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "core",
    "input_queue": "core_in",
    "output_queue": "core_out",
    "max_message_bytes": 4096,
    "max_answer_bytes": 3000,
}


def wire_file(name: str) -> bytes:
    return (WIRE / name).read_bytes()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, broker: object) -> Iterator[str]:
    """One vhost with the `core` test daemon and the real `aleph` daemon running."""
    tmp = tmp_path_factory.mktemp("wire")
    with throwaway_vhost() as vhost:
        config = write_config(tmp / "amqpd.ini", vhost, tmp / "state", {"core": CORE, "aleph": {}})
        with running_worker(config, "core", tmp / "core.log"), running_worker(config, "aleph", tmp / "aleph.log"):
            yield vhost


@pytest.fixture(autouse=True)
def empty_outputs(served: str) -> None:
    """Every test reads only the answers it caused."""
    purge(served, "plone", "core_out")


@pytest.fixture
def client(served: str) -> Iterator[RPCClient]:
    with RPCClient(BROKER, served, "core", registry=StructureRegistry.from_modules([core])) as rpc:
        yield rpc


def test_legacy_request_answered_with_its_uuid_header_byte_for_byte(served: str) -> None:
    headers = json.loads(wire_file("aleph-search-request.headers.json"))
    publish(served, "search", "request", wire_file("aleph-isbn-validation-request.json"), headers)
    [(method, properties, body)] = read_messages(served, "plone", 1)
    assert method.routing_key == "result"
    assert properties.headers["UUID"] == headers["UUID"]
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == 2
    assert json.loads(body) == {"is_valid": True, "__nt_name": "ISBNValidationResult"}


def test_not_json_answered_with_json_decode_error_headers(served: str) -> None:
    publish(served, "search", "request", wire_file("bad-not-json.txt"), {"UUID": "bad-json-1"})
    [(_, properties, body)] = read_messages(served, "plone", 1)
    headers = properties.headers
    assert properties.content_type == "application/text"
    assert properties.delivery_mode == 2
    assert headers["UUID"] == "bad-json-1"
    assert headers["exception_name"] == "JSONDecodeError"
    assert headers["exception_type"] == "<class 'json.decoder.JSONDecodeError'>"
    assert headers["exception"] == "Expecting value: line 1 column 1 (char 0)"
    assert headers["traceback"].startswith("Traceback (most recent call last)")
    assert body == b"Expecting value: line 1 column 1 (char 0)"


def test_unknown_nt_name_is_refused_without_running_anything(client: RPCClient) -> None:
    with pytest.raises(RemoteError) as caught:
        client.call(b'{"__nt_name": "Popen", "args": ["touch", "/tmp/pwned"]}')
    assert caught.value.exception_name == "UnknownStructureError"
    assert "'Popen'" in caught.value.exception
    assert not Path("/tmp/pwned").exists()


def test_structure_from_another_daemon_is_refused(client: RPCClient) -> None:
    with pytest.raises(RemoteError, match="unknown structure 'ISBNValidationRequest'"):
        client.call(wire_file("aleph-isbn-validation-request.json"))


def test_headerless_message_is_answered_and_worker_stays_up(served: str, client: RPCClient) -> None:
    publish(served, "core", "request", b'{"text": "x", "__nt_name": "Ping"}', headers=None)
    [(_, properties, _)] = read_messages(served, "core_out", 1)
    assert properties.headers["UUID"] == ""
    assert properties.headers["exception_name"] == "MissingUUIDError"
    assert client.call(core.Ping("still here")) == core.Pong("still here")


def test_handler_exception_becomes_error_response_with_class_name(client: RPCClient) -> None:
    with pytest.raises(RemoteError) as caught:
        client.call(core.Fail("disk full"))
    assert caught.value.exception_name == "HandlerFailure"
    assert caught.value.exception == "disk full"
    assert "core_behaviours.py" in caught.value.traceback


def test_progress_messages_share_the_uuid_and_come_before_the_answer(served: str) -> None:
    publish(served, "core", "request", b'{"count": 3, "__nt_name": "Steps"}', {"UUID": "steps-1"})
    messages = read_messages(served, "core_out", 4)
    assert [p.headers["UUID"] for _, p, _ in messages] == ["steps-1"] * 4
    assert [p.type for _, p, _ in messages] == ["progress", "progress", "progress", "response"]
    bodies = [json.loads(b) for _, _, b in messages]
    assert [b.get("number") for b in bodies[:3]] == [0, 1, 2]
    assert bodies[3] == {"count": 3, "__nt_name": "Done"}


def test_progress_reaches_the_client_callback(client: RPCClient) -> None:
    seen: list[object] = []
    assert client.call(core.Steps(2), progress=seen.append) == core.Done(2)
    assert seen == [core.Step(0), core.Step(1)]


def test_prefixed_routing_key_is_answered_on_the_prefixed_result_key(served: str) -> None:
    with bound_queue(served, "core", "tenant.result") as tenant_queue:
        publish(served, "core", "tenant.request", b'{"text": "t", "__nt_name": "Ping"}', {"UUID": "tenant-1"})
        [(method, properties, body)] = read_messages(served, tenant_queue, 1)
    assert method.routing_key == "tenant.result"
    assert properties.headers["UUID"] == "tenant-1"
    assert json.loads(body) == {"text": "t", "__nt_name": "Pong"}


def test_reply_to_gets_the_answer_with_the_same_correlation_id(client: RPCClient, served: str) -> None:
    assert client.call(core.Ping("rpc"), uuid="rpc-uuid") == core.Pong("rpc")
    # The same answer also went to the daemon's output queue, as old consumers expect.
    [(_, properties, body)] = read_messages(served, "core_out", 1)
    assert properties.headers["UUID"] == "rpc-uuid"
    assert json.loads(body) == {"text": "rpc", "__nt_name": "Pong"}


def test_oversize_message_gets_an_error_response(client: RPCClient, served: str) -> None:
    with pytest.raises(RemoteError) as caught:
        client.call(core.Ping("x" * 5000))
    assert caught.value.exception_name == "MessageTooLargeError"
    assert "max_message_bytes = 4096" in caught.value.exception


def test_answer_larger_than_the_limit_becomes_an_error_response(client: RPCClient) -> None:
    with pytest.raises(RemoteError) as caught:
        client.call(core.Ping("y" * 3500))
    assert caught.value.exception_name == "AnswerTooLargeError"
    assert "exceeds max_answer_bytes = 3000" in caught.value.exception
    assert client.call(core.Ping("small")) == core.Pong("small"), "the worker goes on serving"
