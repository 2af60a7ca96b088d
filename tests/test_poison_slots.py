"""Poison slots name a process by pid and start time; a start collects the slots dead processes left idle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from daemons.common.processes import process_start_time, same_process_alive
from daemons.rpc.poison import PoisonTracker

KEY = "a" * 64


def test_a_process_is_named_by_pid_and_start_time() -> None:
    start = process_start_time(os.getpid())
    assert start is not None and same_process_alive(os.getpid(), start)
    assert not same_process_alive(os.getpid(), start + 1), "a reused pid has another start time"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_start_time(child.pid) is None


def test_own_slot_is_named_pid_and_start_time_and_removed_on_close(tmp_path: Path) -> None:
    tracker = PoisonTracker(tmp_path, 3)
    assert tracker.slot.name == f"{os.getpid()}-{process_start_time(os.getpid())}"
    tracker.close()
    assert not list(tmp_path.iterdir())


def test_start_collects_idle_dead_slots_and_keeps_death_records(tmp_path: Path) -> None:
    live_start = process_start_time(os.getpid())
    (tmp_path / "999999999-1").write_bytes(b" " * 64)  # died idle: nothing to count
    (tmp_path / "999999998-1").write_bytes(KEY.encode())  # died with KEY in hand: one death
    (tmp_path / f"{os.getpid()}-{(live_start or 0) + 5}").write_bytes(KEY.encode())  # pid reused: dead too
    tracker = PoisonTracker(tmp_path, 2)
    try:
        names = {p.name for p in tmp_path.iterdir()}
        assert "999999999-1" not in names and "999999998-1" in names
        assert tracker.begin(KEY, redelivered=True) == 2
        tracker.end(KEY, redelivered=True)
        assert {p.name for p in tmp_path.iterdir()} == {tracker.slot.name}, "answered: its death records go"
    finally:
        tracker.close()


def test_released_slot_is_not_a_death(tmp_path: Path) -> None:
    tracker = PoisonTracker(tmp_path, 3)
    tracker.begin(KEY, redelivered=False)
    tracker.release()  # given back at a stop
    assert tracker.slot.read_bytes().strip() == b""
    tracker.close()
