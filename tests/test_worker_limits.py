"""Every answer is bounded: hostile sizes get one error answer at once, the worker never reconnects over them.

Real broker, real worker processes (core test daemon and ftp_manager), one throwaway vhost for the module.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pika
import pytest

from daemons.rpc import answers
from daemons.testing import (
    WorkerProcess,
    publish,
    purge,
    queue_state,
    read_messages,
    running_worker,
    throwaway_vhost,
    wait_for,
    write_config,
)

CORE = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "core",
    "input_queue": "core_in",
    "output_queue": "core_out",
}
MARKER = re.compile(r" \[\.\.\. (\d+) characters cut\]$")


@dataclass
class Served:
    vhost: str
    core: WorkerProcess
    ftp: WorkerProcess


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, broker: object) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("limits")
    (tmp / "ftp" / "home").mkdir(parents=True)
    ftp = (f"[ftp]\npasswd_file = {tmp / 'ftp' / 'ftpd.passwd'}\nhome_root = {tmp / 'ftp' / 'home'}\n"
           f"proftpd_pidfile = {tmp / 'ftp' / 'proftpd.pid'}")
    with throwaway_vhost() as vhost:
        config = write_config(tmp / "amqpd.ini", vhost, tmp / "state",
                              {"core": CORE, "ftp_manager": {"options": {"password_rounds": 1000}}}, extra=ftp)
        with running_worker(config, "core", tmp / "core.log") as core, \
                running_worker(config, "ftp_manager", tmp / "ftp.log") as ftp_worker:
            yield Served(vhost, core, ftp_worker)


@pytest.fixture(autouse=True)
def empty_outputs(served: Served) -> Iterator[None]:
    purge(served.vhost, "core_out", "plone")
    yield
    for worker in (served.core, served.ftp):
        log = worker.log()
        assert "reconnect" not in log and "new channel" not in log, f"{worker.name} lost its connection:\n{log[-3000:]}"


def ask(vhost: str, exchange: str, body: bytes, uuid: str, queue: str = "core_out",
        timeout: float = 1.0) -> tuple[pika.BasicProperties, bytes, float]:
    """Publish one request; its one answer and how long it took."""
    started = time.monotonic()
    publish(vhost, exchange, "request", body, {"UUID": uuid})
    [(_, properties, answer)] = read_messages(vhost, queue, 1, timeout=timeout + 1)
    return properties, answer, time.monotonic() - started


def assert_cut(text: str, original_length: int, limit: int) -> None:
    match = MARKER.search(text)
    assert match, f"no truncation marker at the end of {text[-80:]!r}"
    assert len(text.encode()) <= limit
    assert int(match.group(1)) + len(text) - len(match.group(0)) >= original_length - 1


def assert_next_request_answered(vhost: str) -> None:
    properties, body, _ = ask(vhost, "core", b'{"text": "next", "__nt_name": "Ping"}', "next")
    assert properties.headers["UUID"] == "next" and json.loads(body) == {"text": "next", "__nt_name": "Pong"}


def test_handler_raising_300_kb_of_text_gets_one_truncated_error_answer_within_a_second(served: Served) -> None:
    properties, body, took = ask(served.vhost, "core", b'{"size": 300000, "__nt_name": "Explode"}', "big-error")
    headers = properties.headers
    assert took < 1.0
    assert headers["UUID"] == "big-error" and headers["exception_name"] == "HandlerFailure"
    assert_cut(headers["exception"], 300_000, answers.ERROR_TEXT_BYTES)
    assert_cut(headers["traceback"], 300_000, answers.TRACEBACK_BYTES)
    assert headers["traceback"].startswith("Traceback (most recent call last)")
    assert_cut(body.decode(), 300_000, answers.ERROR_BODY_BYTES)
    assert answers.header_bytes(properties) <= answers.FRAME_MAX
    assert queue_state(served.vhost, "core_out")[0] == 0, "exactly one answer"
    assert_next_request_answered(served.vhost)


def test_a_70000_character_nt_name_is_refused_with_a_truncated_error(served: Served) -> None:
    body = json.dumps({"__nt_name": "N" * 70_000}).encode()
    properties, answer, took = ask(served.vhost, "core", body, "long-name")
    assert took < 1.0
    assert properties.headers["exception_name"] == "UnknownStructureError"
    assert_cut(properties.headers["exception"], 70_000, answers.ERROR_TEXT_BYTES)
    assert len(answer) <= answers.ERROR_BODY_BYTES
    assert_next_request_answered(served.vhost)


def test_a_70_kb_bare_json_string_is_answered_and_the_worker_goes_on(served: Served) -> None:
    text = "s" * 70_000
    properties, answer, took = ask(served.vhost, "core", json.dumps(text).encode(), "bare-string")
    assert took < 1.0
    assert properties.headers == {"UUID": "bare-string"} and json.loads(answer) == text  # the core handler echoes
    assert_next_request_answered(served.vhost)


def test_a_70000_character_username_to_ftp_manager_is_refused_with_a_truncated_error(served: Served) -> None:
    body = json.dumps({"__nt_name": "AddUser", "username": "u" * 70_000, "password": "secret"}).encode()
    properties, answer, took = ask(served.vhost, "ftp", body, "long-user", queue="plone")
    assert took < 1.0
    assert properties.headers["UUID"] == "long-user"
    assert properties.headers["exception_name"] == "InvalidUsername"
    assert_cut(properties.headers["exception"], 70_000, answers.ERROR_TEXT_BYTES)
    assert len(answer) <= answers.ERROR_BODY_BYTES


def test_a_130000_character_uuid_gets_an_error_answer_without_its_traceback(served: Served) -> None:
    uuid = "U" * 130_000
    properties, _, took = ask(served.vhost, "core", b"not json", uuid)
    assert took < 1.0
    assert properties.headers["UUID"] == uuid, "the client matches on the whole UUID"
    assert properties.headers["exception_name"] == "JSONDecodeError"
    assert MARKER.fullmatch(properties.headers["traceback"]), "the traceback made room for the UUID"
    assert answers.header_bytes(properties) <= answers.FRAME_MAX
    assert_next_request_answered(served.vhost)


def test_a_uuid_no_answer_can_carry_is_logged_and_acked_once(served: Served) -> None:
    uuid = "V" * 131_000  # the request fits one frame; no answer with this UUID and error headers can
    publish(served.vhost, "core", "request", b"not json", {"UUID": uuid})
    wait_for(lambda: "no answer can carry this UUID" in served.core.log(), 5, what="the logged decision")
    wait_for(lambda: queue_state(served.vhost, "core_in") == (0, 1), 5, what="the request to be acked")
    assert served.core.log().count("no answer can carry this UUID") == 1, "decided once, never redelivered"
    assert_next_request_answered(served.vhost)
    assert queue_state(served.vhost, "core_out")[0] == 0
