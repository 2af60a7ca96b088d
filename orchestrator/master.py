"""The master commands: start-all, stop-all, run, start/stop/restart NAME, tail and reload.

The master is a supervisord driven over its control socket; the config it runs is generated from the
INI by orchestrator.supervisor_conf, and orchestrator.listener records what happens to each daemon.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterable, Sequence

from daemons.settings import DaemonSettings
from orchestrator import reload_plan
from orchestrator import status as status_module
from orchestrator.broker_checks import BrokerUnreachable, MissingVhosts, check_vhosts
from orchestrator.config import Config
from orchestrator.control import LISTENER_NAME, MasterClient, MasterFiles, pid_alive
from orchestrator.records import RecordStore
from orchestrator.supervisor_conf import SocketPathTooLong, render

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_NOT_RUNNING = 3
SETTLED = ("RUNNING", "FATAL", "STOPPED", "EXITED")
MASTER_START_TIMEOUT = 20.0


class MasterError(RuntimeError):
    """A master command cannot go on; the text says why and what to do."""


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _running_client(config: Config) -> MasterClient:
    client = MasterClient(MasterFiles.for_config(config))
    if not client.is_running():
        raise MasterError(
            f"the master is not running (no answer on {client.files.socket}): run `edeposit-amqpd start-all`"
        )
    return client


# -- preparing and starting -----------------------------------------------------------------------
def _preflight(config: Config, daemons: Iterable[DaemonSettings]) -> None:
    """The broker must answer and every vhost must exist before anything is spawned."""
    try:
        check_vhosts(config.amqp, daemons)
    except (BrokerUnreachable, MissingVhosts) as exc:
        raise MasterError(str(exc)) from exc


def _write_conf(config: Config, files: MasterFiles) -> None:
    try:
        text = render(config, files)
    except SocketPathTooLong as exc:
        raise MasterError(str(exc)) from exc
    files.state_dir.mkdir(parents=True, exist_ok=True)
    files.log_dir.mkdir(parents=True, exist_ok=True)
    temporary = files.conf.with_suffix(".conf.tmp")
    temporary.write_text(text)
    temporary.chmod(0o600)
    os.replace(temporary, files.conf)


def _mark_log_offsets(store: RecordStore, files: MasterFiles, daemons: Iterable[DaemonSettings]) -> None:
    """Old logs may hold old tracebacks: a daemon's exit reason is only searched in what follows."""
    for settings in daemons:
        record = store.load(settings.name)
        for number, path in enumerate(files.daemon_logs(settings.name, settings.processes)):
            process = settings.name if settings.processes == 1 else f"{settings.name}_{number:02d}"
            record.log_offsets[process] = path.stat().st_size if path.exists() else 0
        store.save(record)


def _prepare(config: Config) -> MasterFiles:
    files = MasterFiles.for_config(config)
    _preflight(config, config.enabled)
    _write_conf(config, files)
    store = RecordStore(files.records)
    store.reset()
    _mark_log_offsets(store, files, config.enabled)
    return files


def _supervisord(files: MasterFiles, foreground: bool) -> list[str]:
    command = [sys.executable, "-m", "supervisor.supervisord", "-c", str(files.conf)]
    return command + ["-n"] if foreground else command


def _already_running(client: MasterClient) -> bool:
    if client.is_running():
        print(f"the master is already running (pid {client.pid()}, socket {client.files.socket}); nothing changed")
        return True
    return False


def _launch(files: MasterFiles) -> MasterClient:
    """Start supervisord in the background and wait until it answers on its socket."""
    client = MasterClient(files)
    done = subprocess.run(_supervisord(files, foreground=False), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=MASTER_START_TIMEOUT)
    if done.returncode != 0:
        raise MasterError(f"supervisord did not start: {(done.stderr or done.stdout).strip()}")
    deadline = time.monotonic() + MASTER_START_TIMEOUT
    while not client.is_running():
        if time.monotonic() > deadline:
            raise MasterError(f"supervisord did not answer on {files.socket} within {MASTER_START_TIMEOUT:g} s; "
                              f"see {files.master_log}")
        time.sleep(0.05)
    return client


def _settle_timeout(config: Config) -> float:
    """Long enough for supervisord to try every start (its back-off grows by 1 s per attempt)."""
    orch = config.orchestrator
    retries = orch.startretries
    return (retries + 1) * (orch.startsecs + 2) + retries * (retries + 1) / 2 + 15


def wait_settled(client: MasterClient, names: Sequence[str], timeout: float) -> None:
    """Wait until each named daemon is RUNNING or has failed (FATAL, or stopped for crash-looping)."""
    store = RecordStore(client.files.records)
    deadline = time.monotonic() + timeout
    wanted = set(names)
    while time.monotonic() < deadline:
        infos = [info for info in client.processes() if info["group"] in wanted]
        pending = [
            info for info in infos
            if info["statename"] not in SETTLED and not store.crash_loop(info["group"])
        ]
        if not pending:
            return
        time.sleep(0.1)


def _summary(config: Config, names: Sequence[str]) -> int:
    """Print the state of `names`; EXIT_OK only when all of them run."""
    report = status_module.collect(config, names, with_queues=False)
    print(status_module.render_table(config, report))
    failed = [d.name for d in report.daemons if d.state != "RUNNING"]
    if failed:
        print(f"not running: {', '.join(failed)} (see `edeposit-amqpd tail NAME`)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def start_all(config: Config) -> int:
    """Start the master and every enabled daemon; non-zero when any daemon failed to start."""
    files = MasterFiles.for_config(config)
    if _already_running(MasterClient(files)):
        return EXIT_OK
    try:
        _prepare(config)
        client = _launch(files)
    except MasterError as exc:
        return _fail(str(exc))
    names = [d.name for d in config.enabled]
    wait_settled(client, names, _settle_timeout(config))
    return _summary(config, names)


def run_foreground(config: Config) -> int:
    """The master in the foreground (systemd): supervisord replaces this process."""
    files = MasterFiles.for_config(config)
    if _already_running(MasterClient(files)):
        return EXIT_FAILED
    try:
        _prepare(config)
    except MasterError as exc:
        return _fail(str(exc))
    command = _supervisord(files, foreground=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return EXIT_FAILED  # not reached


# -- stopping -------------------------------------------------------------------------------------
def _stop_daemons_at_once(client: MasterClient) -> None:
    """TERM every daemon together, wait for them, and drop their groups.

    Note: supervisord's own shutdown stops one group per turn of its loop (up to a second each), so
    with twelve daemons it would take many seconds; supervisord still sends KILL to any process group
    that outlives stopwaitsecs.
    """
    groups = {info["group"] for info in client.processes()} - {LISTENER_NAME}
    for group in sorted(groups):
        try:
            client.supervisor.stopProcessGroup(group, False)
        except xmlrpc.client.Fault:
            pass
    while any(info["group"] in groups and info["statename"] in ("RUNNING", "STARTING", "STOPPING", "BACKOFF")
              for info in client.processes()):
        time.sleep(0.05)
    for group in sorted(groups):
        try:
            client.supervisor.removeProcessGroup(group)
        except xmlrpc.client.Fault:
            pass


def stop_all(config: Config) -> int:
    """Stop every daemon (TERM to its process group, KILL after stopwaitsecs), then the master."""
    files = MasterFiles.for_config(config)
    client = MasterClient(files)
    if not client.is_running():
        print("the master is not running; nothing to stop")
        return EXIT_OK
    pid = client.pid()
    try:
        _stop_daemons_at_once(client)
        client.supervisor.shutdown()
    except (OSError, xmlrpc.client.Error) as exc:
        return _fail(f"cannot ask the master (pid {pid}) to stop: {exc}")
    deadline = time.monotonic() + config.orchestrator.stopwaitsecs + 15
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return _fail(f"the master (pid {pid}) is still running after {config.orchestrator.stopwaitsecs + 15} s")
        time.sleep(0.05)
    print(f"stopped the master (pid {pid}) and every daemon")
    return EXIT_OK


# -- one daemon -----------------------------------------------------------------------------------
def _known_group(client: MasterClient, config: Config, name: str) -> None:
    groups = {info["group"] for info in client.processes()}
    if name in groups:
        return
    if not config.daemon(name).enabled:
        raise MasterError(f"daemon {name!r} is disabled in {config.source}: set `enabled = true` in its section "
                          f"and run `edeposit-amqpd reload`")
    raise MasterError(f"daemon {name!r} is not in the running master: run `edeposit-amqpd reload`")


def _group_call(method: str, name: str, client: MasterClient, wait: bool) -> None:
    try:
        getattr(client.supervisor, method)(name, wait)
    except xmlrpc.client.Fault as exc:
        raise MasterError(f"{method} {name}: {exc.faultString}") from exc


def _one(config: Config, name: str, action: str) -> int:
    try:
        client = _running_client(config)
        _known_group(client, config, name)
        store = RecordStore(client.files.records)
        if action in ("stop", "restart"):
            _group_call("stopProcessGroup", name, client, True)
        if action in ("start", "restart"):
            store.clear_crash_loop(name)
            _group_call("startProcessGroup", name, client, False)
            wait_settled(client, [name], _settle_timeout(config))
    except MasterError as exc:
        return _fail(str(exc))
    report = status_module.collect(config, [name], with_queues=False)
    print(status_module.render_table(config, report).split("\n", 2)[-1])
    state = report.daemons[0].state
    wanted = "STOPPED" if action == "stop" else "RUNNING"
    return EXIT_OK if state == wanted else EXIT_FAILED


def start(config: Config, name: str) -> int:
    """Start one daemon (and clear a crash-loop stop); the others are left alone."""
    return _one(config, name, "start")


def stop(config: Config, name: str) -> int:
    return _one(config, name, "stop")


def restart(config: Config, name: str) -> int:
    return _one(config, name, "restart")


# -- logs -----------------------------------------------------------------------------------------
def tail(config: Config, name: str, follow: bool = False, lines: int = 40) -> int:
    """Print the end of a daemon's log(s), and with `follow` keep printing (across rotations)."""
    settings = config.daemon(name)
    files = MasterFiles.for_config(config)
    logs = [path for path in files.daemon_logs(name, settings.processes) if path.exists()]
    if not logs:
        return _fail(f"no log for {name} yet in {files.log_dir} (it has not run under this log_dir)")
    tail_command = shutil.which("tail")
    if tail_command is None:
        return _fail("`tail` not found: apt-get install coreutils")
    command = [tail_command, "-n", str(lines), *(["-F"] if follow else []), *map(str, logs)]
    try:
        return subprocess.run(command).returncode
    except KeyboardInterrupt:
        return EXIT_OK


# -- reload ---------------------------------------------------------------------------------------
def _changed_groups(client: MasterClient) -> tuple[list[str], list[str], list[str]]:
    added, changed, removed = client.supervisor.reloadConfig()[0]
    return list(added), list(changed), list(removed)


def _remove_group(client: MasterClient, name: str) -> None:
    try:
        client.supervisor.stopProcessGroup(name, True)
    except xmlrpc.client.Fault:
        pass
    client.supervisor.removeProcessGroup(name)


def _reload_problems(config: Config, files: MasterFiles) -> list[str]:
    """Handlers of the daemons reload would (re)start must import and accept their options."""
    try:
        old_conf = files.conf.read_text()
    except OSError:
        old_conf = ""
    try:
        new_conf = render(config, files)
    except SocketPathTooLong as exc:
        return [str(exc)]
    starting = set(reload_plan.added_or_changed(old_conf, new_conf))
    return reload_plan.handler_problems(config.source, [d for d in config.enabled if d.name in starting])


def reload(config: Config) -> int:
    """Apply the edited INI (the CLI has validated it): add, remove, and restart only the daemons whose
    settings changed; refuse, changing nothing, when a handler to be (re)started cannot be loaded."""
    try:
        client = _running_client(config)
        files = client.files
        _preflight(config, config.enabled)
        problems = _reload_problems(config, files)
        if problems:
            print("config error (nothing was changed):\n" + "\n".join(problems), file=sys.stderr)
            return EXIT_CONFIG
        _write_conf(config, files)
        added, changed, removed = _changed_groups(client)
    except MasterError as exc:
        return _fail(str(exc))
    except xmlrpc.client.Fault as exc:
        return _fail(f"the master refused the new config: {exc.faultString}")
    store = RecordStore(files.records)
    for name in removed + changed:
        _remove_group(client, name)
    for name in removed:
        store.forget(name)
    by_name = {d.name: d for d in config.enabled}
    for name in changed + added:
        if name != LISTENER_NAME:
            store.forget(name)
            _mark_log_offsets(store, files, [by_name[name]])
        client.supervisor.addProcessGroup(name)
    daemons = [name for name in added + changed if name != LISTENER_NAME]
    wait_settled(client, daemons, _settle_timeout(config))
    unchanged = sorted(set(by_name) - set(added) - set(changed))
    for label, names in (("added", added), ("restarted", changed), ("removed", removed), ("unchanged", unchanged)):
        shown = [n for n in names if n != LISTENER_NAME]
        print(f"{label}: {', '.join(shown) if shown else '-'}")
    if not daemons:
        return EXIT_OK
    return _summary(config, daemons)
