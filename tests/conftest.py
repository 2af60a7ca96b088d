"""Shared fixtures: a throwaway vhost on the real broker, a temp state dir, a config writer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemons.testing import BROKER, require_broker, throwaway_vhost

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def broker() -> None:
    """Fails (never skips) every test that needs RabbitMQ when none answers."""
    require_broker()
    return BROKER


@pytest.fixture
def vhost(broker: object) -> Iterator[str]:
    with throwaway_vhost() as name:
        yield name


@pytest.fixture(scope="module")
def module_vhost(broker: object) -> Iterator[str]:
    """One throwaway vhost for a whole module (making one costs seconds), where tests share it safely."""
    with throwaway_vhost() as name:
        yield name


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def probe_master(vhost: str, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 capfd: pytest.CaptureFixture[str]) -> Iterator[tuple[Any, int]]:
    from daemons.testing import write_config
    from tests.test_master_lifecycle import Master

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    port = free_port()
    daemon = {"handler": "tests.handlers.metrics_probe:react", "exchange": "probe", "input_queue": "probe_in",
              "output_queue": "probe_out", "max_message_bytes": 300}
    extra = f"startsecs = 1\nlog_format = json\nmetrics_listen = 127.0.0.1:{port}\nmetrics_queue_interval = 1"
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"probe": daemon}, extra=extra)
    master = Master(config, capfd)
    try:
        yield master, port
    finally:
        master.cleanup()
