"""The monitor as a real `edeposit-amqpd worker ftp_monitor` process: SIGTERM, kill -9 and a broker that
goes away; after each, every record's event arrives, and repeats carry the same message_id."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.testing import BROKER, WorkerProcess, wait_for, write_config
from tests.fixtures.ftp_log import QueueReader, Received, SessionWriter, edeposit_record

pytestmark = pytest.mark.slow
LOCK = "delete_me_to_import_files.txt"


def config_for(vhost: str, tmp_path: Path, **options: str) -> Path:
    home_root = tmp_path / "homes"
    home_root.mkdir(exist_ok=True)
    extra = (f"[ftp]\npasswd_file = {tmp_path / 'ftpd.passwd'}\nhome_root = {home_root}\n"
             f"proftpd_pidfile = {tmp_path / 'proftpd.pid'}\nlock_filename = {LOCK}")
    return write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"ftp_monitor": {
        "log_file": str(tmp_path / "extended.log"), "log_format": "edeposit",
        "options": {"events": "true", "start_at": "beginning", "event_queue": "test-events", **options},
    }}, extra=extra)


def start(config: Path, tmp_path: Path, run: int) -> WorkerProcess:
    worker = WorkerProcess(config, "ftp_monitor", tmp_path / f"worker-{run}.log")
    wait_for(lambda: "publishing to exchange" in worker.log() or worker.process.poll() is not None, 20,
             what="the monitor to connect")
    assert worker.process.poll() is None, worker.log()
    return worker


@pytest.fixture
def reader(vhost: str) -> Iterator[QueueReader]:
    events = QueueReader(BROKER, vhost, "ftp", "test-events", ["event.#"])
    yield events
    events.close()


def upload(n: int) -> bytes:
    return edeposit_record("STOR", f"/home/ftp/alice/file-{n:05d}.pdf", size=n)


def check_complete(received: list[Received], count: int) -> None:
    """Every record's event arrived in order; a repeated message_id always carries the same body."""
    first: dict[str, bytes] = {}
    for message in received:
        assert first.setdefault(message.message_id, message.body) == message.body
    ordered = [json.loads(body)["path"] for body in first.values()]
    assert ordered == [f"/home/ftp/alice/file-{n:05d}.pdf" for n in range(count)]


def collect_unique(reader: QueueReader, count: int, timeout: float = 30.0) -> list[Received]:
    wait_for(lambda: len({m.message_id for m in reader.drain()}) >= count, timeout, what=f"{count} distinct events")
    return reader.received


def test_sigterm_exits_zero_and_the_restart_goes_on_where_it_stopped(vhost, tmp_path, reader):
    config = config_for(vhost, tmp_path)
    log = tmp_path / "extended.log"
    with SessionWriter(log) as session:
        worker = start(config, tmp_path, 1)
        for n in range(50):
            session.write(upload(n))
        collect_unique(reader, 50)
        assert worker.stop() == 0
        for n in range(50, 100):
            session.write(upload(n))  # while it is down
        worker = start(config, tmp_path, 2)
        try:
            check_complete(collect_unique(reader, 100), 100)
        finally:
            worker.stop()


def test_kill_9_in_the_middle_of_a_burst_loses_nothing(vhost, tmp_path, reader):
    config = config_for(vhost, tmp_path, batch_records="20")  # many small batches: the kill lands mid-stream
    log = tmp_path / "extended.log"
    count = 3000
    with SessionWriter(log) as session:
        worker = start(config, tmp_path, 1)
        for n in range(count // 2):
            session.write(upload(n))
        wait_for(lambda: len(reader.drain()) > 0, what="the first events")
        worker.signal(signal.SIGKILL)
        worker.stop()
        # How far the first half got before the kill depends on the machine's speed; the second half is
        # written while nothing runs, so the restart must resume from the last confirmed offset either way.
        for n in range(count // 2, count):
            session.write(upload(n))
        assert len({m.message_id for m in reader.drain()}) < count
        worker = start(config, tmp_path, 2)
        try:
            check_complete(collect_unique(reader, count), count)
        finally:
            worker.stop()
