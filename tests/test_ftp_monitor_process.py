"""The monitor as a real `edeposit-amqpd worker ftp_monitor` process: SIGTERM, kill -9 and a broker that
goes away; after each, every record's event arrives, and repeats carry the same message_id."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
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


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def test_records_written_while_the_broker_is_away_arrive_in_order_after_it_returns(vhost, tmp_path, reader):
    config = config_for(vhost, tmp_path)
    log = tmp_path / "extended.log"
    with SessionWriter(log) as session:
        worker = start(config, tmp_path, 1)
        try:
            for n in range(10):
                session.write(upload(n))
            collect_unique(reader, 10)
            reader.close()
            rabbitmqctl("clear_permissions", "-p", vhost, BROKER.user)
            rabbitmqctl("close_all_connections", "-p", vhost, "test: broker away")
            for n in range(10, 40):
                session.write(upload(n))
            wait_for(lambda: "reconnect attempt" in worker.log(), what="a failed reconnect")
            rabbitmqctl("set_permissions", "-p", vhost, BROKER.user, ".*", ".*", ".*")
            back = QueueReader(BROKER, vhost, "ftp", "test-events", ["event.#"])
            back.received = list(reader.received)
            try:
                check_complete(collect_unique(back, 40), 40)
            finally:
                back.close()
        finally:
            assert worker.stop() == 0


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Even root cannot write into an immutable directory: a stand-in for a read-only or full disk."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_an_offsets_file_that_cannot_be_written_ends_the_process_non_zero_naming_the_path(vhost, tmp_path, reader):
    config = config_for(vhost, tmp_path)
    log = tmp_path / "extended.log"
    data_dir = tmp_path / "state" / "ftp_monitor"
    with SessionWriter(log) as session:
        worker = start(config, tmp_path, 1)
        try:
            session.write(upload(0))
            collect_unique(reader, 1)
            with immutable(data_dir):
                session.write(upload(1))
                worker.process.wait(20)
        finally:
            code = worker.stop()
    assert code == 3
    assert f"cannot write the offsets file {data_dir / 'offsets.json'}" in worker.log()
    assert "Traceback" not in worker.log()


def test_an_exception_on_any_thread_ends_the_process_with_its_traceback(tmp_path):
    script = ("import logging, threading, time\n"
              "from ftp_monitor.service import exit_on_thread_exception\n"
              "logging.basicConfig()\n"
              "exit_on_thread_exception(logging.getLogger('edeposit.ftp_monitor'))\n"
              "def boom(): raise RuntimeError('broken on purpose')\n"
              "threading.Thread(target=boom, name='publisher').start()\n"
              "time.sleep(30)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 70
    assert "thread publisher died" in done.stderr and "RuntimeError: broken on purpose" in done.stderr
