"""Shared fixtures: a throwaway vhost on the real broker, a temp state dir, a config writer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path
