"""INLINE structures: served on the connection's own thread, and moved to the handler thread when they
overrun or misuse it (daemons/rpc/handler.py, "INLINE").

Real broker, one real worker process per test (its INLINE set changes as it runs), a throwaway vhost per
module. The core test handler answers Where, Nap and Chatty with the name of the thread that ran them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.rpc.loader import HandlerError, import_handler
from daemons.rpc.settings import DaemonSettings
from daemons.testing import WorkerProcess, publish, purge, read_messages, running_worker, write_config

CORE = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "core",
    "input_queue": "core_in",
    "output_queue": "core_out",
}
OWNER = "MainThread"
HANDLER_THREAD = "core-handler"


@pytest.fixture
def worker(module_vhost: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    config = write_config(tmp_path / "amqpd.ini", module_vhost, tmp_path / "state", {"core": CORE})
    with running_worker(config, "core", tmp_path / "core.log") as running:
        purge(module_vhost, "core_out")
        yield running


def ask(vhost: str, structure: str, uuid: str, answers: int = 1, **fields: object) -> list[tuple[dict, object]]:
    """One request; its `answers` messages on the output queue as (headers, decoded body or text)."""
    publish(vhost, "core", "request", json.dumps({**fields, "__nt_name": structure}).encode(), {"UUID": uuid})
    got = []
    for _, properties, body in read_messages(vhost, "core_out", answers, timeout=10):
        assert properties.headers["UUID"] == uuid
        value = json.loads(body) if properties.content_type == "application/json" else body.decode()
        got.append((properties.headers, value))
    return got


def test_an_inline_structure_runs_on_the_connection_thread_and_others_on_the_handler_thread(
        module_vhost: str, worker: WorkerProcess) -> None:
    assert ask(module_vhost, "Nap", "n", seconds=0)[0][1] == OWNER
    assert ask(module_vhost, "Where", "w")[0][1] == HANDLER_THREAD
    [(_, pong)] = ask(module_vhost, "QuickPing", "q", text="hello")
    assert pong == {"text": "hello", "__nt_name": "Pong"}


def test_an_inline_structure_that_overruns_is_served_on_the_handler_thread_from_then_on(
        module_vhost: str, worker: WorkerProcess) -> None:
    assert ask(module_vhost, "Nap", "slow", seconds=0.7)[0][1] == OWNER
    assert "INLINE structure Nap is served on the handler thread from now on: it took 0.7" in worker.log()
    assert ask(module_vhost, "Nap", "after", seconds=0)[0][1] == HANDLER_THREAD
    assert ask(module_vhost, "QuickPing", "others stay", text="x")[0][1]["text"] == "x"
    assert "QuickPing is served on the handler thread" not in worker.log()


def test_an_inline_react_that_sends_progress_gets_an_error_then_runs_on_the_handler_thread(
        module_vhost: str, worker: WorkerProcess) -> None:
    [(headers, text)] = ask(module_vhost, "Chatty", "first")
    assert headers["exception_name"] == "InlineMisuseError"
    assert "take it out of INLINE" in text
    assert "Chatty is served on the handler thread from now on: its react called send_back" in worker.log()
    progress, final = ask(module_vhost, "Chatty", "second", answers=2)
    assert progress[1] == {"number": 0, "__nt_name": "Step"} and final[1] == HANDLER_THREAD
    assert "reconnect" not in worker.log()


def _settings(tmp_path: Path, module: str) -> DaemonSettings:
    return DaemonSettings(name="mine", handler=f"{module}:react", vhost="v", exchange="mine", input_queue="in",
                          output_queue="out", python_path=(str(tmp_path),), data_dir=tmp_path, state_dir=tmp_path)


@pytest.mark.parametrize("declared, message", [
    ('("Pingg",)', r"INLINE names Pingg, which the daemon does not decode; its structures are: Ping"),
    ('"Ping"', r"INLINE must be a sequence of structure names, got 'Ping'"),
])
def test_inline_must_name_structures_the_daemon_decodes(tmp_path: Path, declared: str, message: str) -> None:
    module = f"inline_{abs(hash(declared))}"
    (tmp_path / f"{module}.py").write_text(
        "from collections import namedtuple\nPing = namedtuple('Ping', 'text')\nSTRUCTURES = [Ping]\n"
        f"INLINE = {declared}\n\ndef react(message, send_back):\n    return message\n")
    with pytest.raises(HandlerError, match=message):
        import_handler(_settings(tmp_path, module))
