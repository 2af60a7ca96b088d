"""The master's parts that need no running supervisord: its generated config (read back by supervisor's
own parser), exit-reason extraction, crash-loop counting and the listener's bookkeeping."""

from __future__ import annotations

import dataclasses
import pwd
import shlex
from pathlib import Path
from typing import Any

import pytest
from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ServerOptions

from daemons.testing import write_config
from orchestrator import last_error
from orchestrator.config import load
from orchestrator.control import EXPORTER_NAME, LISTENER_NAME, MasterFiles
from orchestrator.crashloop import CrashWindow
from orchestrator.listener import Watcher
from orchestrator.records import RecordStore
from orchestrator.reload_plan import added_or_changed, handler_problems
from orchestrator.supervisor_conf import SETTINGS_ENV, SocketPathTooLong, fingerprint, render

ECHO = {"handler": "tests.handlers.master_echo:react", "exchange": "echo"}


def parsed_by_supervisord(tmp_path: Path, daemons: dict[str, dict[str, Any]], state_dir: Path,
                          extra: str = "") -> dict[str, Any]:
    """Render the supervisord config for `daemons` and read it back the way supervisord does."""
    config = load(write_config(tmp_path / "amqpd.ini", "vh", state_dir, daemons, extra=extra))
    config.orchestrator.log_dir.mkdir(parents=True, exist_ok=True)  # the master makes it before starting
    conf = tmp_path / "supervisord.conf"
    conf.write_text(render(config))
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    return {"options": options, "groups": {g.name: g for g in options.process_group_configs}, "config": config}


def test_each_enabled_daemon_is_one_program_with_a_worker_per_process(tmp_path: Path, state_dir: Path) -> None:
    parsed = parsed_by_supervisord(tmp_path, {"one": ECHO, "many": {**ECHO, "processes": 3},
                                              "off": {**ECHO, "enabled": "false"}}, state_dir)
    groups = parsed["groups"]
    assert set(groups) == {"one", "many", LISTENER_NAME, EXPORTER_NAME}
    assert [p.name for p in groups["many"].process_configs] == ["many_00", "many_01", "many_02"]
    [one] = groups["one"].process_configs
    assert one.command.endswith(f"-m orchestrator -c {tmp_path / 'amqpd.ini'} worker one")


def test_metrics_add_the_exporter_and_each_worker_writes_under_state_dir_unless_turned_off(
        tmp_path: Path, state_dir: Path) -> None:
    parsed = parsed_by_supervisord(tmp_path, {"one": ECHO}, state_dir, extra="metrics_listen = 127.0.0.1:9999")
    [exporter] = parsed["groups"][EXPORTER_NAME].process_configs
    assert exporter.command.endswith(f"-m orchestrator.exporter -c {tmp_path / 'amqpd.ini'}")
    [one] = parsed["groups"]["one"].process_configs
    assert one.environment["PROMETHEUS_MULTIPROC_DIR"] == str(state_dir / "metrics" / "one")
    off = parsed_by_supervisord(tmp_path, {"one": ECHO}, state_dir, extra="metrics_listen =")
    assert EXPORTER_NAME not in off["groups"]
    [one] = off["groups"]["one"].process_configs
    assert "PROMETHEUS_MULTIPROC_DIR" not in one.environment


def test_workers_stop_as_a_group_run_unbuffered_and_die_with_the_master(tmp_path: Path, state_dir: Path) -> None:
    parsed = parsed_by_supervisord(tmp_path, {"one": ECHO}, state_dir, extra="stopwaitsecs = 7")
    for group in parsed["groups"].values():
        for process in group.process_configs:
            assert process.stopasgroup and process.killasgroup
            assert process.environment["PYTHONUNBUFFERED"] == "1"
            assert process.environment["EDEPOSIT_AMQPD_EXIT_WITH_PARENT"] == "1"
    [one] = parsed["groups"]["one"].process_configs
    assert one.stopwaitsecs == 7 and one.autorestart is RestartUnconditionally


def test_each_daemon_waits_long_enough_for_its_own_handler_time_limit(tmp_path: Path, state_dir: Path) -> None:
    parsed = parsed_by_supervisord(tmp_path, {"calibre": {}, "one": ECHO, "own": {**ECHO, "stopwaitsecs": 45}},
                                   state_dir, extra="stopwaitsecs = 20")
    waits = {name: group.process_configs[0].stopwaitsecs for name, group in parsed["groups"].items()}
    assert waits["calibre"] >= 610, "a conversion may take calibre's whole 600 s timeout after TERM"
    assert waits["one"] == 20 and waits["own"] == 45
    assert parsed["config"].daemon("calibre").stopwaitsecs == waits["calibre"], "the worker knows its deadline"


def test_control_is_a_private_unix_socket_in_state_dir_and_nothing_listens_on_tcp(tmp_path: Path,
                                                                                  state_dir: Path) -> None:
    parsed = parsed_by_supervisord(tmp_path, {"one": ECHO}, state_dir)
    [server] = parsed["options"].server_configs
    assert server["section"] == "unix_http_server"
    assert server["file"] == str(state_dir / "supervisor.sock")
    assert server["chmod"] == 0o700


def test_the_control_socket_wants_the_credentials_of_this_start(tmp_path: Path, state_dir: Path) -> None:
    from orchestrator.control import new_credentials

    user, password = new_credentials(MasterFiles(state_dir, state_dir / "log"))
    parsed = parsed_by_supervisord(tmp_path, {"one": ECHO}, state_dir)
    [server] = parsed["options"].server_configs
    assert (server["username"], server["password"]) == (user, password)
    assert (state_dir / "control.auth").stat().st_mode & 0o077 == 0


def test_a_root_master_runs_each_daemon_as_its_user_in_its_directory_with_its_environment(
        tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    daemons = {"one": {**ECHO, "user": "nobody", "directory": tmp_path, "environment": '"A=1, 2", B=%x'},
               "two": {**ECHO, "exchange": "echo2", "user": "root"}}
    parsed = parsed_by_supervisord(tmp_path, daemons, state_dir)
    [one], [two] = parsed["groups"]["one"].process_configs, parsed["groups"]["two"].process_configs
    assert (one.uid, one.directory) == (pwd.getpwnam("nobody").pw_uid, str(tmp_path))
    assert {k: one.environment[k] for k in ("A", "B", "USER", "HOME")} == {
        "A": "1, 2", "B": "%x", "USER": "nobody", "HOME": pwd.getpwnam("nobody").pw_dir}
    assert two.uid is None, "root: the master's own user"
    assert "\nuser = root\n" in (tmp_path / "supervisord.conf").read_text(), "no CRIT about running as root"


def test_a_master_that_is_not_root_runs_every_daemon_as_its_own_user(
        tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    parsed = parsed_by_supervisord(tmp_path, {"one": {**ECHO, "user": "no-such-user"}}, state_dir)
    [one] = parsed["groups"]["one"].process_configs
    assert one.uid is None and "USER" not in (one.environment or {})


def test_logs_are_one_per_worker_in_log_dir_rotated_by_size(tmp_path: Path, state_dir: Path) -> None:
    parsed = parsed_by_supervisord(tmp_path, {"one": ECHO, "two": {**ECHO, "processes": 2}}, state_dir,
                                   extra=f"log_dir = {tmp_path / 'logs'}\nlog_max_bytes = 1234\nlog_backups = 2")
    [one] = parsed["groups"]["one"].process_configs
    assert one.stdout_logfile == str(tmp_path / "logs" / "one.log") and one.redirect_stderr
    assert (one.stdout_logfile_maxbytes, one.stdout_logfile_backups) == (1234, 2)
    logs = [p.stdout_logfile for p in parsed["groups"]["two"].process_configs]
    assert logs == [str(p) for p in MasterFiles(state_dir, tmp_path / "logs").daemon_logs("two", 2)]


def test_percent_and_spaces_in_paths_reach_supervisord_unchanged(tmp_path: Path) -> None:
    odd = tmp_path / "50% state"
    odd.mkdir()
    parsed = parsed_by_supervisord(tmp_path, {"one": ECHO, "two": {**ECHO, "processes": 2}}, odd)
    [one] = parsed["groups"]["one"].process_configs
    assert one.stdout_logfile == str(odd / "log" / "one.log")
    assert parsed["groups"]["two"].process_configs[1].stdout_logfile == str(odd / "log" / "two-1.log")
    [listener] = parsed["groups"][LISTENER_NAME].process_configs
    assert listener.stderr_logfile == str(odd / "log" / "events.log")
    assert shlex.split(listener.command)[3:5] == ["--state-dir", str(odd)]  # supervisord splits it like a shell
    options = parsed["options"]
    assert (options.pidfile, options.logfile) == (str(odd / "supervisord.pid"), str(odd / "log" / "supervisord.log"))
    assert options.server_configs[0]["file"] == str(odd / "supervisor.sock")


def test_only_the_changed_daemon_gets_a_new_fingerprint(tmp_path: Path, state_dir: Path) -> None:
    before = load(write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO, "two": ECHO}))
    after = load(write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO, "two": {**ECHO, "prefetch": 5}}))
    assert fingerprint(before, before.daemons["one"]) == fingerprint(after, after.daemons["one"])
    assert fingerprint(before, before.daemons["two"]) != fingerprint(after, after.daemons["two"])
    assert f'{SETTINGS_ENV}="{fingerprint(after, after.daemons["two"])}"' in render(after)


def test_a_state_dir_too_long_for_a_socket_is_refused_naming_the_key(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    config = load(write_config(tmp_path / "a.ini", "vh", deep, {"one": ECHO}))
    with pytest.raises(SocketPathTooLong, match=r"\[orchestrator\] state_dir = .*choose a shorter state_dir"):
        render(config)


TRACEBACK_LOG = """\
2026-01-01 INFO edeposit.one[7]: starting
Traceback (most recent call last):
  File "x.py", line 1, in <module>
    import backend
ValueError: first problem

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "y.py", line 2, in <module>
    raise ImportError("backend missing")
ImportError: backend missing: apt-get install backend
"""


def test_the_exception_line_of_the_last_traceback_is_the_reason() -> None:
    assert last_error.exception_line(TRACEBACK_LOG) == "ImportError: backend missing: apt-get install backend"
    assert last_error.reason(TRACEBACK_LOG, "exit status 1") == "ImportError: backend missing: apt-get install backend"
    assert last_error.exception_line("just a line\n") is None
    assert last_error.reason("INFO x\nparent process is gone; exiting\n", "exit status 1") == (
        "parent process is gone; exiting")


def test_a_signal_is_the_reason_even_when_an_old_traceback_is_in_the_log() -> None:
    master_log = ("2026 INFO exited: one (exit status 1; not expected)\n"
                  "2026 WARN exited: one_01 (terminated by SIGKILL; not expected)\n"
                  "2026 INFO exited: one (terminated by SIGKILL (core dumped); not expected)\n")
    assert last_error.exit_description(master_log, "one") == "terminated by SIGKILL (core dumped)"
    assert last_error.exit_status("terminated by SIGKILL") == -1
    assert last_error.exit_status("exit status 3") == 3
    assert last_error.reason(TRACEBACK_LOG, "terminated by SIGKILL") == "terminated by SIGKILL"


def test_only_log_text_after_the_offset_is_searched_unless_the_log_was_rotated(tmp_path: Path) -> None:
    log = tmp_path / "one.log"
    log.write_text("old\n")
    offset = log.stat().st_size
    with log.open("a") as handle:
        handle.write("new\n")
    assert last_error.read_since(log, offset) == "new\n"
    assert last_error.read_since(log, offset + 100) == "old\nnew\n"
    assert last_error.read_since(tmp_path / "missing.log") == ""


def test_crashes_count_only_inside_the_window() -> None:
    window = CrashWindow(limit=3, window=10)
    crashes = window.add(window.add([], 0.0), 5.0)
    assert not window.is_looping(crashes)
    assert window.is_looping(window.add(crashes, 9.0))
    assert not window.is_looping(window.add(crashes, 12.0))  # the crash at 0 s has left the window


class RecordingSupervisor:
    """Stands in for supervisord's XML-RPC namespace: answers getProcessInfo, records stop calls."""

    def __init__(self, logfile: Path) -> None:
        self.logfile = logfile
        self.stopped: list[str] = []

    def getProcessInfo(self, name: str) -> dict[str, Any]:  # noqa: N802 - supervisord's method name
        return {"stdout_logfile": str(self.logfile), "exitstatus": 1, "spawnerr": ""}

    def stopProcessGroup(self, name: str, wait: bool) -> list[Any]:  # noqa: N802
        self.stopped.append(name)
        return []


def test_the_listener_stops_a_crash_looping_daemon_once_and_a_manual_start_forgives_it(tmp_path: Path) -> None:
    logfile = tmp_path / "one.log"
    logfile.write_text(TRACEBACK_LOG)
    master_log = tmp_path / "supervisord.log"
    master_log.write_text("INFO exited: one (exit status 1; not expected)\n")
    rpc = RecordingSupervisor(logfile)
    store = RecordStore(tmp_path / "events")
    clock = iter(range(100))
    watcher = Watcher(store, CrashWindow(limit=2, window=60), rpc, master_log, clock=lambda: float(next(clock)))
    crash = {"processname": "one", "groupname": "one", "from_state": "RUNNING"}
    respawn = {"processname": "one", "groupname": "one", "from_state": "EXITED"}

    watcher.handle("PROCESS_STATE_EXITED", crash)
    watcher.handle("PROCESS_STATE_STARTING", respawn)
    assert rpc.stopped == [] and store.crash_loop("one") is None
    with logfile.open("a") as handle:
        handle.write(TRACEBACK_LOG)  # the second life dies the same way
    watcher.handle("PROCESS_STATE_EXITED", crash)
    assert rpc.stopped == ["one"]
    assert "crashing 2 times" in store.crash_loop("one")
    assert "ImportError: backend missing" in store.crash_loop("one")
    record = store.load("one")
    assert (record.restarts, record.exit_status) == (1, 1)

    watcher.handle("PROCESS_STATE_STARTING", respawn)  # supervisord was quicker than the stop
    assert rpc.stopped == ["one", "one"]
    store.clear_crash_loop("one")
    watcher.handle("PROCESS_STATE_STARTING", {**respawn, "from_state": "STOPPED"})
    assert store.load("one").crashes == []
    watcher.handle("PROCESS_STATE_STARTING", {**respawn, "groupname": LISTENER_NAME})
    assert not (tmp_path / "events" / f"{LISTENER_NAME}.json").exists()


def test_records_survive_a_round_trip_and_ignore_unknown_keys(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "events")
    record = store.load("one")
    record.restarts, record.last_error = 2, "boom"
    store.save(record)
    assert dataclasses.asdict(store.load("one")) == dataclasses.asdict(record)
    (tmp_path / "events" / "two.json").write_text('{"restarts": 1, "from_the_future": true}')
    assert store.load("two").restarts == 1
    (tmp_path / "events" / "three.json").write_text("{not json")
    assert store.load("three").restarts == 0


def test_reload_plans_to_start_only_added_and_changed_daemons(tmp_path: Path, state_dir: Path) -> None:
    before = render(load(write_config(tmp_path / "a.ini", "vh", state_dir, {"one": ECHO, "two": ECHO, "three": ECHO})))
    after = render(load(write_config(tmp_path / "a.ini", "vh", state_dir,
                                     {"one": ECHO, "two": {**ECHO, "prefetch": 9}, "four": ECHO})))
    assert added_or_changed(before, after) == ["two", "four"]
    assert added_or_changed("", after) == ["one", "two", "four"]


def test_a_handler_that_cannot_be_loaded_is_a_reload_problem_naming_it(tmp_path: Path, state_dir: Path) -> None:
    config = load(write_config(tmp_path / "a.ini", "vh", state_dir, {
        "fine": ECHO,
        "broken": {**ECHO, "handler": "tests.handlers.master_broken:react"},
        "typo": {**ECHO, "handler": "tests.handlers.master_echo:reactt"},
        "badopt": {**ECHO, "handler": "tests.handlers.master_flaky:react", "options": {"crash_fil": "x"}},
    }))
    problems = handler_problems(config.source, config.enabled)
    assert len(problems) == 4  # one line per problem: badopt lacks crash_file and has an unknown option
    assert "[[broken]] handler = 'tests.handlers.master_broken:react': cannot import: ImportError" in problems[0]
    assert "tests.handlers.master_echo has no callable 'reactt'" in problems[1]
    assert "[[badopt]] [[[options]]] crash_file: missing; expected text" in problems[2]
    assert "unknown option 'crash_fil'" in problems[3]
