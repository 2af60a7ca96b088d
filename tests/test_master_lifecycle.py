"""End to end: the master (real supervisord) runs real workers against the real broker.

Each test starts its own master in its own throwaway vhost and state_dir and leaves no process behind.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemons.common.processes import pid_alive, pid_running
from daemons.rpc.client import RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, wait_for, write_config
from orchestrator import cli
from orchestrator.config import load
from orchestrator.control import MasterClient, MasterFiles
from tests.conftest import free_port
from tests.handlers import master_echo

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def echo_daemon(number: int, **extra: Any) -> dict[str, Any]:
    return {"handler": "tests.handlers.master_echo:react", "exchange": f"echo{number}",
            "input_queue": f"in{number}", "output_queue": f"out{number}", **extra}


class Master:
    """One test's master: its config, CLI calls in this process, and what it spawned."""

    def __init__(self, config: Path, capture: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capture = capture
        self.files = MasterFiles.for_config(load(config))
        self.client = MasterClient(self.files)
        self.seen_pids: set[int] = set()

    def run(self, *args: str) -> tuple[int, str, str]:
        """`edeposit-amqpd -c CONFIG ARGS...`: exit code, stdout, stderr."""
        self.capture.readouterr()
        code = cli.main(["-c", str(self.config), *args])
        out, err = self.capture.readouterr()
        return code, out, err

    def status(self, *names: str) -> tuple[int, dict[str, dict[str, Any]]]:
        import json

        code, out, _ = self.run("status", "--json", *names)
        rows = {row["name"]: row for row in json.loads(out)}
        for row in rows.values():
            self.seen_pids.update(row["pids"])
        return code, rows

    def pids(self, name: str) -> list[int]:
        return self.status(name)[1][name]["pids"]

    def process_pids(self) -> set[int]:
        """Every process the master runs right now, the event listener included."""
        pids = {info["pid"] for info in self.client.processes() if info["pid"]}
        self.seen_pids |= pids
        return pids

    def cleanup(self) -> None:
        if self.client.is_running():
            self.process_pids()
            cli.main(["-c", str(self.config), "stop-all"])
        master_pid = self.files.master_pid()
        leftovers = [pid for pid in self.seen_pids | {master_pid or 0} if pid and pid_running(pid)]
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"processes left running after the test: {leftovers}"


@pytest.fixture
def make_master(vhost: str, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                capfd: pytest.CaptureFixture[str]) -> Iterator[Any]:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the children import tests.handlers
    masters: list[Master] = []

    def make(daemons: dict[str, dict[str, Any]], extra: str = "startsecs = 1") -> Master:
        if "metrics_listen" not in extra:  # a port of its own, so masters of parallel test runs never collide
            extra += f"\nmetrics_listen = 127.0.0.1:{free_port()}"
        config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, daemons, extra=extra)
        master = Master(config, capfd)
        masters.append(master)
        return master

    yield make
    for master in masters:
        master.cleanup()


def echo_call(vhost: str, number: int, text: str) -> Any:
    registry = StructureRegistry.from_modules([master_echo])
    with RPCClient(BROKER, vhost, f"echo{number}", registry=registry) as client:
        return client.call(master_echo.Ping(text), timeout=15)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def tcp_listening_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            found.add(target[len("socket:["):-1])
    return found


def test_start_all_serves_every_daemon_and_stop_all_leaves_nothing(make_master: Any, vhost: str,
                                                                   state_dir: Path) -> None:
    master = make_master({"one": echo_daemon(1), "two": echo_daemon(2, processes=2),
                          "spawner": {**echo_daemon(3), "handler": "tests.handlers.master_spawner:react"}})
    code, out, _ = master.run("start-all")
    assert code == 0, out
    assert "RUNNING" in out

    code, rows = master.status()
    assert code == 0
    assert {row["state"] for row in rows.values()} == {"RUNNING"}
    assert len(rows["two"]["pids"]) == 2
    wait_for(lambda: [r["consumers"] for r in master.status()[1].values()] == [1, 2, 1],
             what="every worker to consume")
    helper = int((state_dir / "spawner" / "helper.pid").read_text())
    assert echo_call(vhost, 2, "hello") == master_echo.Ping("hello")

    before = master.process_pids()
    code, out, _ = master.run("start-all")
    assert code == 0 and "already running" in out
    assert master.process_pids() == before

    mode = master.files.socket.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o700
    master_pid = master.files.master_pid()
    assert master_pid is not None
    assert not socket_inodes(master_pid) & tcp_listening_inodes(), "supervisord must not listen on TCP"

    code, out, _ = master.run("stop-all")
    assert code == 0, out
    wait_for(lambda: not any(pid_alive(pid) for pid in before | {master_pid}), timeout=10, what="every process to end")
    assert not pid_alive(helper), "TERM must reach the daemon's whole process group"
    code, rows = master.status()
    assert code == 3
    assert {row["state"] for row in rows.values()} == {"STOPPED"}


def test_killed_worker_is_respawned_counted_and_serves_again(make_master: Any, vhost: str) -> None:
    master = make_master({"one": echo_daemon(1)})
    assert master.run("start-all")[0] == 0
    [old_pid] = master.pids("one")
    os.kill(old_pid, signal.SIGKILL)

    def respawned() -> dict[str, Any] | None:
        row = master.status("one")[1]["one"]
        return row if row["state"] == "RUNNING" and row["pid"] not in (None, old_pid) else None

    row = wait_for(respawned, timeout=20, what="a new worker")
    assert row["restarts"] >= 1
    assert row["exit_status"] == -1
    assert row["last_error"] == "terminated by SIGKILL"
    assert echo_call(vhost, 1, "again") == master_echo.Ping("again")

    code, shown, _ = master.run("tail", "one", "-n", "5")
    assert code == 0
    assert f"[{row['pid']}]" in shown and len(shown.splitlines()) == 5


def test_restart_and_stop_act_on_one_daemon_only(make_master: Any) -> None:
    master = make_master({"one": echo_daemon(1), "two": echo_daemon(2)})
    assert master.run("start-all")[0] == 0
    one, two = master.pids("one"), master.pids("two")

    code, out, _ = master.run("restart", "one")
    assert code == 0, out
    assert master.pids("one") != one and master.pids("two") == two

    assert master.run("stop", "one")[0] == 0
    code, rows = master.status()
    assert code == 3
    assert rows["one"]["state"] == "STOPPED" and rows["two"]["pids"] == two

    assert master.run("start", "one")[0] == 0
    assert master.status()[0] == 0 and master.pids("two") == two


def test_handler_failing_on_import_ends_fatal_with_its_exception_while_others_run(make_master: Any) -> None:
    master = make_master({"broken": {**echo_daemon(1), "handler": "tests.handlers.master_broken:react"},
                          "fine": echo_daemon(2)}, extra="")  # default startsecs and startretries
    code, _, err = master.run("start-all")
    assert code == 1 and "broken" in err
    code, rows = master.status()
    assert code == 3
    assert rows["broken"]["state"] == "FATAL"
    assert rows["broken"]["last_error"] == (
        "ImportError: master_broken needs the library 'no_such_backend': pip install no_such_backend")
    assert rows["fine"]["state"] == "RUNNING" and rows["fine"]["consumers"] == 1


def test_crash_loop_is_stopped_as_fatal_and_start_clears_it(make_master: Any, tmp_path: Path) -> None:
    crash_file = tmp_path / "refuse"
    crash_file.touch()
    flaky = {**echo_daemon(1), "handler": "tests.handlers.master_flaky:react", "options": {"crash_file": crash_file}}
    # startsecs = 0: each start counts as successful, so only the crash-loop guard can stop it.
    master = make_master({"flaky": flaky, "fine": echo_daemon(2)},
                         extra="startsecs = 0\ncrash_limit = 3\ncrash_window = 60")
    master.run("start-all")  # with startsecs = 0 it may report RUNNING before the first crash

    row = wait_for(lambda: (r := master.status("flaky")[1]["flaky"])["state"] == "FATAL" and r, what="FATAL")
    assert "crashing 3 times within 60 s" in row["last_error"]
    assert f"RuntimeError: back end refused to start ({crash_file} exists)" in row["last_error"]
    wait_for(lambda: {i["statename"] for i in master.client.processes() if i["group"] == "flaky"} == {"STOPPED"},
             what="supervisord to stop restarting it")
    assert master.status("flaky")[1]["flaky"]["restarts"] in (2, 3)  # 3 lives, and maybe one respawn it cut short

    crash_file.unlink()
    code, out, _ = master.run("start", "flaky")
    assert code == 0, out
    code, rows = master.status()
    assert code == 0 and rows["flaky"]["state"] == "RUNNING"


def test_master_killed_with_sigkill_leaves_no_child(make_master: Any) -> None:
    master = make_master({"one": echo_daemon(1), "two": echo_daemon(2, processes=2)})
    assert master.run("start-all")[0] == 0
    children = master.process_pids()
    assert len(children) == 5  # three workers, the event listener and the metrics exporter
    os.kill(master.client.pid(), signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(pid) for pid in children), timeout=10, what="the children to exit")
    assert master.status()[0] == 3


def test_reload_restarts_only_the_daemon_whose_settings_changed(make_master: Any, vhost: str) -> None:
    master = make_master({"one": echo_daemon(1), "two": echo_daemon(2), "three": echo_daemon(3)})
    assert master.run("start-all")[0] == 0
    one, two = master.pids("one"), master.pids("two")
    three = master.pids("three")

    make_master({"one": echo_daemon(1), "two": echo_daemon(2, prefetch=4), "four": echo_daemon(4)})
    code, out, _ = master.run("reload")
    assert code == 0, out
    assert "added: four" in out and "restarted: two" in out and "removed: three" in out

    code, rows = master.status()
    assert code == 0
    assert rows["one"]["pids"] == one
    assert rows["two"]["pids"] != two and rows["two"]["state"] == "RUNNING"
    assert rows["four"]["state"] == "RUNNING"
    assert "three" not in {info["group"] for info in master.client.processes()}
    assert not any(pid_alive(pid) for pid in three + two)
    assert echo_call(vhost, 4, "new") == master_echo.Ping("new")

    two = rows["two"]["pids"]
    make_master({"one": echo_daemon(1), "two": {**echo_daemon(2), "handler": "tests.handlers.master_broken:react"},
                 "four": echo_daemon(4)})
    code, _, err = master.run("reload")
    assert code == 2
    assert "[[two]] handler = 'tests.handlers.master_broken:react': cannot import: ImportError" in err
    assert master.pids("two") == two and master.status()[0] == 0


def test_run_keeps_the_master_in_the_foreground_and_term_ends_it_with_its_children(make_master: Any) -> None:
    master = make_master({"one": echo_daemon(1)})
    log = master.files.state_dir / "run.out"
    with log.open("wb") as output:
        foreground = subprocess.Popen([sys.executable, "-m", "orchestrator", "-c", str(master.config), "run"],
                                      stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: master.status()[0] == 0, timeout=20, what="the daemons to run")
        supervisord = master.client.pid()
        assert parent_of(supervisord) == foreground.pid, "run keeps supervisord as its child"
        children = master.process_pids()
        foreground.send_signal(signal.SIGTERM)
        wait_for(lambda: not any(pid_alive(pid) for pid in children - {supervisord}) or foreground.poll() is not None,
                 timeout=30, what="the daemons to stop")
        if foreground.poll() is None:
            foreground.send_signal(signal.SIGTERM)  # an impatient second TERM changes nothing
        assert foreground.wait(timeout=30) == 0
        assert not any(pid_alive(pid) for pid in children | {supervisord})
    finally:
        if foreground.poll() is None:
            foreground.kill()
            foreground.wait()


def test_control_socket_wants_the_credentials_of_this_start_and_the_master_log_has_no_crit(make_master: Any) -> None:
    import xmlrpc.client

    from orchestrator.control import UnixSocketTransport, read_credentials

    master = make_master({"one": echo_daemon(1)})
    assert master.run("start-all")[0] == 0
    first = read_credentials(master.files.credentials)
    assert first is not None
    assert stat.S_IMODE(master.files.credentials.stat().st_mode) == 0o600
    anonymous = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=UnixSocketTransport(master.files.socket))
    with pytest.raises(xmlrpc.client.ProtocolError) as refused:
        anonymous.supervisor.getState()
    assert refused.value.errcode == 401
    log = master.files.master_log.read_text()
    assert "supervisord started with pid" in log
    assert [line for line in log.splitlines() if " CRIT " in line] == []
    assert master.run("stop-all")[0] == 0
    assert master.run("start-all")[0] == 0
    assert read_credentials(master.files.credentials) not in (None, first), "each start has new credentials"


# -- health notes: a fixed cause drops its note without a restart ------------------------------------
def needs_file(number: int, needed: Path, **extra: Any) -> dict[str, Any]:
    return {"handler": "tests.handlers.needs_file:react", "exchange": f"needs{number}",
            "input_queue": f"in{number}", "output_queue": f"out{number}", "options": {"needs": str(needed)},
            **extra}


def test_status_rechecks_a_note_and_drops_it_once_the_cause_is_fixed(make_master: Any, tmp_path: Path) -> None:
    needed = tmp_path / "back-end"
    master = make_master({"one": needs_file(1, needed)})  # checked each minute: only status rechecks here
    assert master.run("start-all")[0] == 0
    missing = f"{needed} is missing: create it"
    # RUNNING means up for startsecs; on a busy machine the handler may load (and note) a moment later.
    row = wait_for(lambda: (found := master.status("one")[1]["one"])["note"] == missing and found, timeout=15,
                   what="the note of the missing back end")
    pid = row["pid"]
    needed.touch()
    row = master.status("one")[1]["one"]
    assert row["note"] is None
    assert row["pid"] == pid, "no restart"
    needed.unlink()
    assert master.status("one")[1]["one"]["note"] == missing


def test_the_worker_rechecks_its_note_every_health_interval(make_master: Any, tmp_path: Path) -> None:
    needed = tmp_path / "back-end"
    master = make_master({"one": needs_file(1, needed, health_interval=1)})
    assert master.run("start-all")[0] == 0
    note = master.files.state_dir / "notes" / "one.txt"
    wait_for(lambda: note.exists() and note.read_text().strip() == f"{needed} is missing: create it", timeout=15,
             what="the note of the missing back end")
    pid = master.pids("one")
    needed.touch()
    wait_for(lambda: note.read_text() == "", timeout=10, what="the periodic check to drop the note")
    assert master.pids("one") == pid


# -- a daemon's process: python_path, environment, directory ---------------------------------------
ELSEWHERE = '''
import os
import sys
from collections import namedtuple

Ping = namedtuple("Ping", ["text"])


def react(message, send_back):
    return {"text": message.text, "cwd": os.getcwd(), "value": os.environ.get("EDEPOSIT_TEST_VALUE"),
            "first": sys.path[0]}
'''


def test_a_handler_only_python_path_reaches_is_checked_and_run_with_its_environment(
        make_master: Any, vhost: str, tmp_path: Path) -> None:
    handlers, workdir = tmp_path / "handlers elsewhere", tmp_path / "work"
    handlers.mkdir()
    workdir.mkdir()
    (handlers / "elsewhere_echo.py").write_text(ELSEWHERE)
    far = {"handler": "elsewhere_echo:react", "exchange": "far", "input_queue": "far_in", "output_queue": "far_out"}
    without = make_master({"far": far})
    code, _, err = without.run("check-config")
    assert code == 2 and "handler = 'elsewhere_echo:react': cannot import: ModuleNotFoundError" in err

    master = make_master({"far": {**far, "python_path": f'"{handlers}"', "directory": workdir,
                                  "environment": '"EDEPOSIT_TEST_VALUE=one, two", OTHER=3'}})
    code, out, err = master.run("check-config")
    assert code == 0, err
    code, out, err = master.run("start-all")
    assert code == 0, out + err
    registry = StructureRegistry.from_modules([master_echo])
    with RPCClient(BROKER, vhost, "far", registry=registry) as client:
        answer = client.call(master_echo.Ping("hello"), timeout=15)
    assert answer == {"text": "hello", "cwd": str(workdir), "value": "one, two", "first": str(handlers)}
    pid = master.pids("far")
    empty = tmp_path / "empty"
    empty.mkdir()
    make_master({"far": {**far, "python_path": str(empty)}})  # the same INI, edited
    code, _, err = master.run("reload")
    assert code == 2 and "handler = 'elsewhere_echo:react': cannot import: ModuleNotFoundError" in err
    assert master.pids("far") == pid, "reload refused the edit and left the daemon running"


def test_three_restarts_during_a_long_handler_run_it_again_and_never_make_it_poison(make_master: Any, vhost: str,
                                                                                    tmp_path: Path) -> None:
    from daemons.testing import publish, queue_state, read_messages

    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    core = {"handler": "tests.handlers.core_behaviours:react", "exchange": "core", "input_queue": "core_in",
            "output_queue": "core_out", "stopwaitsecs": 4, "poison_limit": 3, "options": {"marker_dir": marker_dir}}
    master = make_master({"core": core})
    assert master.run("start-all")[0] == 0
    wait_for(lambda: queue_state(vhost, "core_in")[1] == 1, 20, what="the worker to consume")
    publish(vhost, "core", "request", b'{"seconds": 8, "__nt_name": "Slow"}', {"UUID": "restarted"})
    for restart in range(3):
        wait_for(lambda n=restart: len(list(marker_dir.glob("slow-started.*"))) == n + 1, 20,
                 what="the handler to start")
        code, out, _ = master.run("restart", "core")
        assert code == 0, out
    [(_, properties, body)] = read_messages(vhost, "core_out", 1, timeout=30)
    assert properties.headers["UUID"] == "restarted"
    assert "exception_name" not in properties.headers, properties.headers
    assert body == b'"slept"'
    assert len(list(marker_dir.glob("slow-started.*"))) == 4, "given back three times, run a fourth"
