"""`Type=notify`: the master tells systemd READY=1 once every daemon runs or has failed, with a STATUS."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.records import RecordStore
from orchestrator.sd_notify import ready_status
from tests.test_master_lifecycle import echo_daemon, make_master  # noqa: F401 - fixture


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(60)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def test_ready_is_sent_once_every_daemon_runs(make_master: Any, notify_socket: socket.socket) -> None:  # noqa: F811
    master = make_master({"one": echo_daemon(1), "two": echo_daemon(2)})
    assert master.run("start-all")[0] == 0
    message = notify_socket.recv(4096).decode()
    assert message == "READY=1\nSTATUS=2 daemons running"
    code, rows = master.status()
    assert code == 0 and {row["state"] for row in rows.values()} == {"RUNNING"}
    master.run("restart", "one")
    notify_socket.settimeout(3)
    with pytest.raises(TimeoutError):
        notify_socket.recv(4096)  # once only, not again on later events


def test_a_failed_daemon_does_not_hold_ready_back(make_master: Any, notify_socket: socket.socket) -> None:  # noqa: F811
    # startsecs = 8: a busy machine may take seconds to reach the failing import, which must come first.
    master = make_master({"broken": {**echo_daemon(1), "handler": "tests.handlers.master_broken:react"},
                          "fine": echo_daemon(2)}, extra="startsecs = 8\nstartretries = 0")
    assert master.run("start-all")[0] == 1
    message = notify_socket.recv(4096).decode()
    assert message == "READY=1\nSTATUS=1 running; not running: broken (see edeposit-amqpd status)"


def test_no_status_while_a_daemon_is_still_starting(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "events")
    infos = [{"group": "one", "statename": "RUNNING"}, {"group": "two", "statename": "BACKOFF"},
             {"group": "edeposit-amqpd-events", "statename": "RUNNING"}]
    assert ready_status(infos, store) is None
    infos[1]["statename"] = "STOPPED"  # not started yet, not given up
    assert ready_status(infos, store) is None
    store.mark_crash_loop("two", "crashed 5 times in 60 s")
    assert ready_status(infos, store) == "1 running; not running: two (see edeposit-amqpd status)"
    assert ready_status([], store) == "0 daemons running"


def test_the_unit_waits_for_ready_and_documents_what_install_docs_installs() -> None:
    root = Path(__file__).resolve().parent.parent
    unit = (root / "conf" / "edeposit-amqpd.service").read_text().splitlines()
    assert "Type=notify" in unit and "NotifyAccess=all" in unit
    makefile = (root / "Makefile").read_text()
    doc_dir = next(line.split("?=")[1].strip() for line in makefile.splitlines() if line.startswith("DOC_DIR"))
    pages = [line.split("=", 1)[1] for line in unit if line.startswith("Documentation=")]
    assert f"file://{doc_dir}/html/operations.html" in pages
    assert (root / "docs" / "operations.rst").exists()
