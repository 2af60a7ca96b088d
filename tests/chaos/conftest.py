"""Fixtures of the chaos suite: a master in a throwaway vhost and temp dir, and a summary of the counts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemons.testing import write_config
from tests.chaos.fleet import Fleet

DAEMON = "chaos"
EXCHANGE, INPUT_QUEUE, OUTPUT_QUEUE = "chaos", "chaos_in", "chaos_out"
PROCESSES = 2

# The faults kill workers far faster than production ever should: supervisord's start backoff and
# retries, the crash-loop guard and the poison limit would rightly slow down or stop a daemon (or answer
# a message with PoisonMessageError) that dies twenty times in ten seconds. Those guards have their own
# tests; here they are set out of reach (startsecs = 0: every start counts, so a respawn never backs
# off) so that what is measured is whether messages survive.
ORCHESTRATOR = "startsecs = 0\nstartretries = 100\ncrash_limit = 1000\ncrash_window = 60"
SETTINGS = {"handler": "tests.handlers.chaos_echo:react", "exchange": EXCHANGE, "input_queue": INPUT_QUEUE,
            "output_queue": OUTPUT_QUEUE, "processes": PROCESSES, "poison_limit": 100}

# Every scenario runs twice: requests served on the handler thread, and served INLINE on the connection's.
HANDLERS = {"handler-thread": "tests.handlers.chaos_echo:react", "inline": "tests.handlers.chaos_echo_inline:react"}

_REPORTS: list[str] = []


@pytest.fixture(params=sorted(HANDLERS))
def served_on(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serving_thread(served_on: str) -> str:
    """The thread that serves (nearly) every request: redelivered ones always go to the handler thread."""
    return "MainThread" if served_on == "inline" else f"{DAEMON}-handler"


@pytest.fixture
def fleet(vhost: str, served_on: str) -> Iterator[Fleet]:
    # Not tmp_path: pytest keeps those; the state dir (socket, logs, slots) goes when the test ends.
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        root = Path(tmp)
        settings = {**SETTINGS, "handler": HANDLERS[served_on]}
        config = write_config(root / "amqpd.ini", vhost, root / "state", {DAEMON: settings}, extra=ORCHESTRATOR)
        fleet = Fleet(config, DAEMON, PROCESSES)
        try:
            yield fleet
        finally:
            leftovers = fleet.shutdown()
        assert not leftovers, f"processes left running after the test: {leftovers}"


@pytest.fixture
def chaos_report(served_on: str) -> Any:
    return lambda line: _REPORTS.append(f"{line} ({served_on})")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORTS:
        terminalreporter.section("chaos counts")
        for line in _REPORTS:
            terminalreporter.write_line(line)
