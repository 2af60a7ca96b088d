"""The monitor against the real broker: a log written the way ProFTPD writes it, every tailing case,
imports, and the events' routing. The monitor runs in this process (a thread) for speed; the restart
tests run it as a real `edeposit-amqpd worker ftp_monitor` process."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemons.rpc.wire import StructureRegistry, deserialize
from daemons.testing import BROKER, wait_for
from ftp_monitor import structures
from ftp_monitor.monitor import Monitor
from ftp_monitor.options import load_options
from ftp_monitor.records import CUT_LENGTH
from tests.fixtures.ftp_log import QueueReader, Received, SessionWriter, edeposit_record, monitor_settings

LOCK = "delete_me_to_import_files.txt"
REGISTRY = StructureRegistry.from_modules([structures])


@dataclass
class Env:
    vhost: str
    exchange: str
    output_queue: str
    tmp: Path
    log_file: Path
    home_root: Path
    passwd_file: Path
    state_dir: Path
    events: QueueReader
    results: QueueReader

    def settings(self, **options: object):
        return monitor_settings(self.vhost, self.state_dir, self.log_file, self.home_root, self.passwd_file,
                                exchange=self.exchange, output_queue=self.output_queue,
                                **{"events": "true", "start_at": "beginning", "rotated_quiet_seconds": "1",
                                   **options})


@pytest.fixture
def env(module_vhost: str, tmp_path: Path) -> Iterator[Env]:
    own = uuid.uuid4().hex[:8]
    exchange, output_queue = f"ftp-{own}", f"plone-{own}"
    events = QueueReader(BROKER, module_vhost, exchange, f"events-{own}", ["event.#"])
    results = QueueReader(BROKER, module_vhost, exchange, output_queue, ["result"])
    home_root = tmp_path / "homes"
    home_root.mkdir()
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    try:
        yield Env(module_vhost, exchange, output_queue, tmp_path, tmp_path / "log" / "extended.log", home_root,
                  tmp_path / "ftpd.passwd", state_dir, events, results)
    finally:
        for reader in (events, results):
            reader.channel.queue_delete(reader.queue)
            reader.channel.exchange_delete(exchange)
            reader.close()


@contextlib.contextmanager
def running(settings) -> Iterator[Monitor]:
    monitor = Monitor(settings, BROKER, load_options(settings))
    thread = threading.Thread(target=monitor.run, daemon=True)
    thread.start()
    try:
        assert monitor.publisher.wait_connected(15), "the monitor did not connect to the broker"
        yield monitor
    finally:
        monitor.stop()
        thread.join(15)
        assert not thread.is_alive(), "the monitor did not stop"


def paths(received: list[Received]) -> list[str]:
    return [json.loads(r.body)["path"] for r in received]


def unique(received: list[Received]) -> list[Received]:
    """At-least-once delivery may repeat a message; the repeat carries the same message_id."""
    seen: dict[str, Received] = {}
    for message in received:
        if message.message_id in seen:
            assert message.body == seen[message.message_id].body
        seen.setdefault(message.message_id, message)
    return list(seen.values())


def upload(n: int, user: str = "alice") -> bytes:
    return edeposit_record("STOR", f"/home/ftp/{user}/file-{n}.pdf", user=user, size=n)


def log_dir(env: Env) -> Path:
    env.log_file.parent.mkdir(exist_ok=True)
    return env.log_file.parent


def test_upload_delete_and_rename_events_use_event_keys_that_old_consumers_never_see(env):
    log_dir(env)
    with running(env.settings()), SessionWriter(env.log_file, pid=10) as one, SessionWriter(env.log_file) as two:
        one.write(edeposit_record("STOR", "/home/ftp/alice/a.pdf", pid=10, size=5))
        one.write(edeposit_record("RNFR", "/home/ftp/alice/a.pdf", pid=10))
        two.write(edeposit_record("RNFR", "/home/ftp/alice/other.pdf", pid=11))
        one.write(edeposit_record("RNTO", "/home/ftp/alice/b.pdf", pid=10))
        one.write(edeposit_record("DELE", "/home/ftp/alice/b.pdf", pid=10))
        received = env.events.wait_for(3)
    assert [r.routing_key for r in received] == ["event.uploaded", "event.renamed", "event.deleted"]
    renamed = deserialize(received[1].body, REGISTRY)
    assert (renamed.path, renamed.new_path, renamed.session_pid) == ("/home/ftp/alice/a.pdf", "/home/ftp/alice/b.pdf",
                                                                     10)
    assert deserialize(received[0].body, REGISTRY).size == 5
    assert all(r.message_id for r in received)
    assert env.results.drain() == []


def test_aborted_and_failed_uploads_are_told_apart_and_preliminary_lines_ignored(env):
    log_dir(env)
    with running(env.settings()), SessionWriter(env.log_file) as session:
        session.write(edeposit_record("STOR", "/home/ftp/alice/slow.pdf", status=150, transfer_status="-"))
        session.write(edeposit_record("STOR", "/home/ftp/alice/slow.pdf", status=426, transfer_status="cancelled"))
        session.write(edeposit_record("STOR", "-", status=550, transfer_status="failed"))
        session.write(edeposit_record("STOR", "/home/ftp/alice/ok.pdf"))
        received = env.events.wait_for(3)
    assert [r.routing_key for r in received] == ["event.upload_aborted", "event.upload_failed", "event.uploaded"]


def test_events_are_off_by_default(env):
    log_dir(env)
    with running(env.settings(events="false")) as monitor, SessionWriter(env.log_file) as session:
        session.write(upload(1))
        wait_for(lambda: monitor.counts["records"] == 1, what="the record to be read")
    assert env.events.drain() == []


def make_home(env: Env, user: str = "alice") -> Path:
    home = env.home_root / user
    home.mkdir()
    return home


def test_deleting_the_lock_publishes_one_import_request_with_exact_bytes_then_cleans_up(env):
    log_dir(env)
    home = make_home(env)
    ebook = os.urandom(3000) + b"\x00\xff"
    (home / "kniha.epub").write_bytes(ebook)
    (home / "kniha.json").write_text(json.dumps({
        "ISBN": "80-86056-31-7", "vazba": "brož.", "nazev": "Zen", "misto": "Praha", "nakladatel": "Garda",
        "datum": "09/2012", "poradi": "1", "zpracovatel": "F"}))
    with running(env.settings(events="false")), SessionWriter(env.log_file) as session:
        session.write(edeposit_record("DELE", str(home / LOCK)))
        session.write(edeposit_record("DELE", str(home / LOCK)))  # a second deletion before the first import ended
        received = env.results.wait_for(1)
        wait_for(lambda: (home / LOCK).exists(), what="the lock file to be recreated")
    request = deserialize(received[0].body, REGISTRY)
    assert received[0].routing_key == "result" and received[0].message_id
    assert request.username == "alice"
    [pair] = request.requests
    assert base64.b64decode(pair.ebook_file.b64_data) == ebook
    assert pair.metadata_file.parsed_data.nazev == "Zen"
    assert not (home / "kniha.epub").exists() and (home / "import.log.txt").exists()
    assert len(env.results.drain()) == 1


def test_per_user_switches_turn_pairing_off_for_that_user(env):
    from daemons.ftp_manager.users import FtpUser, write_users

    log_dir(env)
    home = make_home(env, "bob")
    write_users(env.passwd_file, [FtpUser("bob", "x", 2000, 2000, "ffttt", str(home), "/bin/false")])
    (home / "sub").mkdir()
    (home / "sub" / "a.pdf").write_bytes(b"a")
    (home / "sub" / "a.json").write_text("{}")
    with running(env.settings()), SessionWriter(env.log_file) as session:
        session.write(edeposit_record("DELE", f"/{LOCK}", user="bob"))  # path as logged inside the chroot
        request = deserialize(env.results.wait_for(1)[0].body, REGISTRY)
    assert not any(type(item).__name__ == "DataPair" for item in request.requests)


# -- tailing cases, each counting every event and checking duplicates share a message_id ----------------


def test_rotation_while_old_sessions_keep_writing_loses_nothing(env):
    log_dir(env)
    with running(env.settings()):
        old = SessionWriter(env.log_file, pid=1)
        for n in range(5):
            old.write(upload(n))
        env.events.wait_for(5)
        os.rename(env.log_file, env.log_file.with_suffix(".log.1"))
        new = SessionWriter(env.log_file, pid=2)
        for n in range(5, 10):
            old.write(upload(n))  # old session, renamed file
            new.write(upload(n + 100))
        received = unique(env.events.wait_for(15))
        old.close()
        new.close()
    assert sorted(paths(received)) == sorted(f"/home/ftp/alice/file-{n}.pdf" for n in [*range(10), *range(105, 110)])


def test_copytruncate_keeps_reading_what_is_written_after_the_truncation(env):
    log_dir(env)
    with running(env.settings()), SessionWriter(env.log_file) as session:
        for n in range(3):
            session.write(upload(n))
        env.events.wait_for(3)
        shutil.copyfile(env.log_file, env.log_file.with_suffix(".log.1"))
        os.truncate(env.log_file, 0)
        for n in range(3, 6):
            session.write(upload(n))
        received = unique(env.events.wait_for(6))
    assert paths(received) == [f"/home/ftp/alice/file-{n}.pdf" for n in range(6)]


def test_truncation_that_regrows_past_the_old_offset_is_read_from_the_start(env):
    log_dir(env)
    with running(env.settings()), SessionWriter(env.log_file) as session:
        session.write(upload(1))
        env.events.wait_for(1)
        os.truncate(env.log_file, 0)
        for n in range(2, 6):  # more bytes than before: only the first bytes tell it was truncated
            session.write(upload(n, user="bob"))
        received = unique(env.events.wait_for(5))
    assert paths(received) == ["/home/ftp/alice/file-1.pdf", *(f"/home/ftp/bob/file-{n}.pdf" for n in range(2, 6))]


def test_delete_and_recreate_reads_the_new_log_from_its_start(env):
    log_dir(env)
    with running(env.settings()):
        with SessionWriter(env.log_file) as session:
            session.write(upload(1))
        env.events.wait_for(1)
        env.log_file.unlink()
        with SessionWriter(env.log_file) as session:
            session.write(upload(2))
            session.write(upload(3))
        received = unique(env.events.wait_for(3))
    assert paths(received) == [f"/home/ftp/alice/file-{n}.pdf" for n in (1, 2, 3)]


def test_a_log_that_does_not_exist_yet_is_read_once_it_appears(env):
    with running(env.settings(start_at="end")):
        log_dir(env)
        with SessionWriter(env.log_file) as session:
            session.write(upload(1))
        received = env.events.wait_for(1)
    assert paths(received) == ["/home/ftp/alice/file-1.pdf"]


def test_half_record_followed_by_another_on_its_line_is_counted_malformed(env):
    log_dir(env)
    record = upload(7)
    with running(env.settings()) as monitor, SessionWriter(env.log_file) as session:
        session.write(record[:40], newline=False)
        session.write(upload(8))  # another session's record can't interleave; this completes nothing yet
        wait_for(lambda: monitor.counts["records"] + monitor.counts["malformed"] >= 1, what="a read")
    assert monitor.counts["malformed"] == 1  # the half record glued to the next one is not a record


def test_partial_line_completed_later_gives_one_event(env):
    log_dir(env)
    record = upload(7)
    with running(env.settings()) as monitor, SessionWriter(env.log_file) as session:
        session.write(record[:40], newline=False)
        with pytest.raises(TimeoutError):
            env.events.wait_for(1, timeout=1.5)
        os.write(session.fd, record[40:] + b"\n")
        received = env.events.wait_for(1)
    assert paths(received) == ["/home/ftp/alice/file-7.pdf"] and monitor.counts["malformed"] == 0


def test_records_glued_at_the_cut_keep_the_second_one(env):
    log_dir(env)
    cut = edeposit_record("STOR", "/home/ftp/alice/" + "x" * 5000)[:CUT_LENGTH]
    with running(env.settings()) as monitor, SessionWriter(env.log_file) as session:
        session.write(cut, newline=False)
        session.write(upload(2))
        received = env.events.wait_for(1)
    assert paths(received) == ["/home/ftp/alice/file-2.pdf"]
    assert monitor.counts["malformed"] == 1


def test_malformed_and_non_utf8_lines_are_counted_and_never_block(env):
    log_dir(env)
    with running(env.settings()) as monitor, SessionWriter(env.log_file) as session:
        session.write(upload(1))
        session.write(b"total garbage")
        session.write(b"edeposit1\t\xff\xfe broken")
        session.write(upload(2))
        received = env.events.wait_for(2)
    assert paths(received) == ["/home/ftp/alice/file-1.pdf", "/home/ftp/alice/file-2.pdf"]
    assert monitor.counts["malformed"] == 2


def test_restart_resumes_where_the_broker_confirmed(env):
    log_dir(env)
    with SessionWriter(env.log_file) as session:
        with running(env.settings()):
            for n in range(3):
                session.write(upload(n))
            env.events.wait_for(3)
        for n in range(3, 6):
            session.write(upload(n))  # written while the monitor is down
        with running(env.settings()):
            received = unique(env.events.wait_for(6))
    assert paths(received) == [f"/home/ftp/alice/file-{n}.pdf" for n in range(6)]


def test_rename_pair_split_by_a_restart_is_still_joined(env):
    log_dir(env)
    with SessionWriter(env.log_file) as session:
        with running(env.settings()) as monitor:
            session.write(edeposit_record("RNFR", "/home/ftp/alice/old.pdf", pid=5))
            wait_for(lambda: monitor.counts["records"] == 1, what="the RNFR to be read")
        with running(env.settings()):
            session.write(edeposit_record("RNTO", "/home/ftp/alice/new.pdf", pid=5))
            [renamed] = env.events.wait_for(1)
    event = deserialize(renamed.body, REGISTRY)
    assert (event.event, event.path, event.new_path) == ("renamed", "/home/ftp/alice/old.pdf",
                                                         "/home/ftp/alice/new.pdf")


def test_records_read_again_after_a_lost_offset_carry_the_same_message_ids(env):
    log_dir(env)
    with SessionWriter(env.log_file) as session:
        for n in range(4):
            session.write(upload(n))
    with running(env.settings()):
        first = list(env.events.wait_for(4))
    (env.state_dir / "ftp_monitor" / "offsets.json").unlink()  # as if it died before saving
    with running(env.settings()):
        both = env.events.wait_for(8)
    assert [m.message_id for m in both[4:]] == [m.message_id for m in first]
    assert len({m.message_id for m in first}) == 4


def close_monitor_connections(vhost: str) -> int:
    """Close the monitor's broker connections on `vhost` only (the test's readers stay connected)."""
    listed = subprocess.run(["rabbitmqctl", "-q", "list_connections", "pid", "vhost", "client_properties"],
                            check=True, capture_output=True, text=True, timeout=60).stdout
    closed = 0
    for row in listed.splitlines():
        pid, _, rest = row.partition("\t")
        if rest.startswith(vhost + "\t") and '"edeposit-amqpd ftp_monitor"' in rest:
            subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: connection closed mid-stream"],
                           check=True, capture_output=True, timeout=60)
            closed += 1
    return closed


def test_connection_closed_by_the_broker_mid_stream_loses_nothing_and_repeats_keep_their_ids(env):
    log_dir(env)
    count = 5000
    with running(env.settings(batch_records="50")) as monitor, SessionWriter(env.log_file) as session:
        for n in range(count):
            session.write(upload(n))
        wait_for(lambda: monitor.counts["published"] > 0, interval=0.005, what="the first confirmed batch")
        assert monitor.counts["published"] < count, "the stream ended before the connection could be closed"
        assert close_monitor_connections(env.vhost) == 1
        wait_for(lambda: monitor.publisher.connections >= 2, 30, what="the monitor to reconnect")
        received = env.events.wait_for(count, timeout=60)
        wait_for(lambda: len(unique(env.events.drain())) >= count, 60, what="every record's event")
    assert sorted(paths(unique(env.events.received))) == sorted(f"/home/ftp/alice/file-{n}.pdf" for n in range(count))
    assert len(received) >= count


def test_a_record_over_max_record_bytes_is_logged_and_skipped_and_the_stream_goes_on(env, caplog):
    log_dir(env)
    huge = edeposit_record("STOR", "/home/ftp/alice/" + "y" * 20000)
    with running(env.settings(max_record_bytes="8192")) as monitor, SessionWriter(env.log_file) as session:
        session.write(upload(1))
        session.write(huge[:10000], newline=False)  # longer than the limit before its newline arrives
        wait_for(lambda: monitor.tailer.current is not None and monitor.tailer.current.skipped > 0,
                 what="the oversize line to be dropped while it grows")
        os.write(session.fd, huge[10000:] + b"\n")
        session.write(upload(2))
        received = env.events.wait_for(2)
        wait_for(lambda: monitor.counts["oversize"] == 1, what="the oversize record to be counted")
    assert paths(received) == ["/home/ftp/alice/file-1.pdf", "/home/ftp/alice/file-2.pdf"]
    assert monitor.counts["malformed"] == 0 and monitor.publisher.connections == 1
    assert any("over max_record_bytes = 8192; skipped" in r.getMessage() for r in caplog.records)


def test_a_message_returned_as_unroutable_is_sent_once_more_after_the_queues_are_declared_again(env, caplog):
    log_dir(env)
    queue = f"declared-{uuid.uuid4().hex[:8]}"
    with running(env.settings(event_queue=queue)) as monitor, SessionWriter(env.log_file) as session:
        env.events.channel.queue_unbind(env.events.queue, env.exchange, "event.#")  # only `queue` takes events
        env.events.channel.queue_delete(queue)  # someone removes the queue the monitor declared
        session.write(upload(1))
        wait_for(lambda: monitor.counts["published"] == 1, what="the event to be confirmed")
        method, properties, body = env.events.channel.basic_get(queue, auto_ack=True)
    env.events.channel.queue_delete(queue)
    assert method is not None and json.loads(body)["path"] == "/home/ftp/alice/file-1.pdf"
    assert monitor.counts["undelivered"] == 0 and monitor.publisher.connections == 1
    assert any("reached no queue" in r.getMessage() for r in caplog.records)
