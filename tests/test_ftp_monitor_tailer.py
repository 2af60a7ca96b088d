"""The log tailer on its own: every file event ProFTPD and logrotate cause, with a controllable clock."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ftp_monitor.offsets import MonitorState, OffsetStore
from ftp_monitor.tailer import LogTailer, TailState
from tests.fixtures.ftp_log import SessionWriter, edeposit_record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(n: int) -> bytes:
    return edeposit_record("STOR", f"/home/ftp/alice/file-{n}.pdf")


def read_all(tailer: LogTailer, rounds: int = 5) -> list[bytes]:
    """Poll until nothing new comes, committing as the monitor does after a confirm."""
    seen: list[bytes] = []
    for _ in range(rounds):
        lines = tailer.poll()
        tailer.commit(lines)
        seen += [line.data for line in lines]
    return seen


def test_a_log_that_does_not_exist_yet_is_picked_up_from_its_start(tmp_path):
    log = tmp_path / "extended.log"
    tailer = LogTailer(log, None, start_at_end=True)
    assert tailer.state is TailState.WAITING_FOR_FILE
    assert tailer.poll() == []
    with SessionWriter(log) as writer:
        writer.write(record(1))
    assert read_all(tailer) == [record(1)]
    assert tailer.state is TailState.FOLLOWING
    tailer.close()


def test_first_start_at_end_skips_history_but_beginning_reads_it(tmp_path):
    log = tmp_path / "extended.log"
    with SessionWriter(log) as writer:
        writer.write(record(1))
    at_end = LogTailer(log, None, start_at_end=True)
    assert read_all(at_end) == []
    from_start = LogTailer(log, None, start_at_end=False)
    assert read_all(from_start) == [record(1)]
    at_end.close()
    from_start.close()


def test_partial_last_line_is_held_until_its_newline(tmp_path):
    log = tmp_path / "extended.log"
    writer = SessionWriter(log)
    tailer = LogTailer(log, None)
    writer.write(record(1)[:30], newline=False)
    assert read_all(tailer) == []
    os.write(writer.fd, record(1)[30:] + b"\n")
    assert read_all(tailer) == [record(1)]
    writer.close()
    tailer.close()


def test_rename_rotation_drains_old_sessions_writing_to_the_renamed_file(tmp_path):
    log = tmp_path / "extended.log"
    clock = Clock()
    old_session = SessionWriter(log, pid=1)
    tailer = LogTailer(log, None, quiet_seconds=30, clock=clock)
    old_session.write(record(1))
    assert read_all(tailer) == [record(1)]
    os.rename(log, tmp_path / "extended.log.1")
    new_session = SessionWriter(log, pid=2)
    new_session.write(record(2))
    old_session.write(record(3))  # the old session still has the renamed file open
    assert sorted(read_all(tailer)) == sorted([record(2), record(3)])
    assert len(tailer.draining) == 1
    clock.now += 10
    old_session.write(record(4))
    assert read_all(tailer) == [record(4)]
    clock.now += 31
    assert read_all(tailer) == []
    assert tailer.draining == []  # quiet long enough: done with the renamed file
    new_session.write(record(5))
    assert read_all(tailer) == [record(5)]
    old_session.close()
    new_session.close()
    tailer.close()


def test_copytruncate_reads_the_truncated_log_again_from_its_start(tmp_path):
    log = tmp_path / "extended.log"
    writer = SessionWriter(log)
    tailer = LogTailer(log, None)
    writer.write(record(1))
    writer.write(record(2))
    assert read_all(tailer) == [record(1), record(2)]
    shutil.copyfile(log, tmp_path / "extended.log.1")
    os.truncate(log, 0)
    writer.write(record(3))  # O_APPEND: lands at the new end, i.e. at 0
    assert read_all(tailer) == [record(3)]
    writer.close()
    tailer.close()


def test_truncation_that_regrows_past_the_old_offset_is_noticed_by_its_first_bytes(tmp_path):
    log = tmp_path / "extended.log"
    writer = SessionWriter(log)
    tailer = LogTailer(log, None)
    writer.write(record(1))
    assert read_all(tailer) == [record(1)]
    os.truncate(log, 0)
    replaced = [edeposit_record("DELE", f"/home/ftp/bob/other-{n}.pdf", user="bob") for n in range(3)]
    for line in replaced:
        writer.write(line)
    assert read_all(tailer) == replaced
    writer.close()
    tailer.close()


def test_delete_and_recreate_follows_the_new_file(tmp_path):
    log = tmp_path / "extended.log"
    clock = Clock()
    tailer = LogTailer(log, None, quiet_seconds=5, clock=clock)
    with SessionWriter(log) as writer:
        writer.write(record(1))
    assert read_all(tailer) == [record(1)]
    log.unlink()
    with SessionWriter(log) as writer:
        writer.write(record(2))
    assert read_all(tailer) == [record(2)]
    clock.now += 6
    assert read_all(tailer) == []
    assert tailer.draining == []
    tailer.close()


def save(tailer: LogTailer, store: OffsetStore) -> None:
    store.save(MonitorState(tailer.positions(), {}))


def test_restart_resumes_after_the_last_committed_line_only(tmp_path):
    log = tmp_path / "extended.log"
    store = OffsetStore(tmp_path / "state" / "offsets.json")
    writer = SessionWriter(log)
    for n in range(3):
        writer.write(record(n))
    tailer = LogTailer(log, None)
    lines = tailer.poll()
    tailer.commit(lines[:2])  # the third was never confirmed
    save(tailer, store)
    tailer.close()
    writer.write(record(3))
    resumed = LogTailer(log, store.load().files)
    assert read_all(resumed) == [record(2), record(3)]
    writer.close()
    resumed.close()


def test_restart_after_inode_reuse_does_not_resume_at_a_stale_offset(tmp_path):
    log = tmp_path / "extended.log"
    store = OffsetStore(tmp_path / "state" / "offsets.json")
    with SessionWriter(log) as writer:
        for n in range(5):
            writer.write(record(n))
    tailer = LogTailer(log, None)
    read_all(tailer)
    save(tailer, store)
    saved = store.load().files[0]
    tailer.close()
    # While the monitor is down the log is deleted and a new one gets the same inode (simulated by
    # rewriting in place: same device and inode, different content).
    fresh = [edeposit_record("DELE", f"/home/ftp/bob/n{n}.pdf", user="bob") for n in range(6)]
    with open(log, "r+b") as handle:
        handle.truncate(0)
        handle.write(b"".join(line + b"\n" for line in fresh))
    assert os.stat(log).st_ino == saved.inode
    resumed = LogTailer(log, store.load().files)
    assert read_all(resumed) == fresh
    resumed.close()


def test_restart_finds_a_log_rotated_while_down_and_drains_it_first(tmp_path):
    log = tmp_path / "extended.log"
    store = OffsetStore(tmp_path / "state" / "offsets.json")
    writer = SessionWriter(log)
    writer.write(record(1))
    tailer = LogTailer(log, None)
    read_all(tailer)
    save(tailer, store)
    tailer.close()
    writer.write(record(2))  # written before the rotation, never read
    os.rename(log, tmp_path / "extended.log.1")
    with SessionWriter(log) as new_writer:
        new_writer.write(record(3))
    resumed = LogTailer(log, store.load().files)
    assert read_all(resumed) == [record(2), record(3)]
    writer.close()
    resumed.close()


def test_damaged_offset_file_is_moved_aside_and_reading_starts_fresh(tmp_path):
    store = OffsetStore(tmp_path / "offsets.json")
    store.path.write_text("{not json")
    assert store.load() is None
    assert (tmp_path / "offsets.json.damaged").exists()
    assert not store.path.exists()


def test_offsets_survive_a_round_trip_with_pending_renames(tmp_path):
    store = OffsetStore(tmp_path / "offsets.json")
    log = tmp_path / "extended.log"
    with SessionWriter(log) as writer:
        writer.write(record(1))
    tailer = LogTailer(log, None)
    read_all(tailer)
    store.save(MonitorState(tailer.positions(), {"4242": "/home/ftp/alice/old.pdf"}))
    loaded = store.load()
    assert loaded.pending_renames == {"4242": "/home/ftp/alice/old.pdf"}
    assert loaded.files == tailer.positions()
    assert loaded.files[0].offset == Path(log).stat().st_size
    tailer.close()
