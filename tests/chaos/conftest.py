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

_REPORTS: list[str] = []


@pytest.fixture
def fleet(vhost: str) -> Iterator[Fleet]:
    # Not tmp_path: pytest keeps those; the state dir (socket, logs, slots) goes when the test ends.
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        root = Path(tmp)
        config = write_config(root / "amqpd.ini", vhost, root / "state", {DAEMON: SETTINGS}, extra=ORCHESTRATOR)
        fleet = Fleet(config, DAEMON, PROCESSES)
        try:
            yield fleet
        finally:
            leftovers = fleet.shutdown()
        assert not leftovers, f"processes left running after the test: {leftovers}"


@pytest.fixture
def chaos_report() -> Any:
    return _REPORTS.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORTS:
        terminalreporter.section("chaos counts")
        for line in _REPORTS:
            terminalreporter.write_line(line)
