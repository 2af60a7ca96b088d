"""The master commands: start-all, stop-all, run, start/stop/restart NAME, tail and reload.

The master is a supervisord driven over its control socket; the config it runs is generated from the
INI by orchestrator.supervisor_conf, and orchestrator.listener records what happens to each daemon.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import xmlrpc.client

from daemons.common.processes import pid_running
from orchestrator import launch, privileges
from orchestrator import reload as reload_module
from orchestrator import status as status_module
from orchestrator.advice import command
from orchestrator.config import Config
from orchestrator.control import LISTENER_NAME, MasterClient, MasterFiles
from orchestrator.launch import EXIT_FAILED, EXIT_OK, MasterError, fail
from orchestrator.records import RecordStore


def start_all(config: Config) -> int:
    """Start the master and every enabled daemon; non-zero when any daemon failed to start."""
    files = MasterFiles.for_config(config)
    if launch.already_running(MasterClient(files), config):
        return EXIT_OK
    try:
        launch.prepare(config)
        client = launch.start_supervisord(files)
    except MasterError as exc:
        return fail(str(exc))
    names = [d.name for d in config.enabled]
    launch.wait_settled(client, names, launch.settle_timeout(config))
    return launch.summary(config, names)


def run_foreground(config: Config) -> int:
    """The master in the foreground (systemd): supervisord runs as this process's only child.

    Note: TERM or INT to this process stops every daemon at once, as stop-all does; supervisord's own
    shutdown would stop them one group per turn of its loop. HUP is passed on to supervisord.
    """
    files = MasterFiles.for_config(config)
    if launch.already_running(MasterClient(files), config):
        return EXIT_FAILED
    try:
        launch.prepare(config)
    except MasterError as exc:
        return fail(str(exc))
    sys.stdout.flush()
    sys.stderr.flush()
    wanted = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    try:
        child = launch.spawn_foreground_supervisord(files, unblock=wanted)
        while True:
            received = signal.sigwaitinfo(wanted).si_signo
            if child.poll() is not None:
                return child.returncode
            if received == signal.SIGHUP:
                child.send_signal(signal.SIGHUP)
            elif received in (signal.SIGTERM, signal.SIGINT):
                _stop_master(MasterClient(files), child, config.orchestrator.stopwaitsecs)
                return child.wait()
    finally:
        # The master is down: a late or second TERM (an impatient operator) must not turn exit 0 into -15.
        for late in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(late, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, wanted)


def _stop_master(client: MasterClient, child: subprocess.Popen[bytes], stopwaitsecs: float) -> None:
    """Every daemon at once, then supervisord; TERM to supervisord when it does not answer (yet)."""
    try:
        if client.is_running():
            _stop_daemons_at_once(client, stopwaitsecs)
            client.supervisor.shutdown()
            return
    except (OSError, xmlrpc.client.Error):
        pass
    child.send_signal(signal.SIGTERM)


# -- stopping -------------------------------------------------------------------------------------
def _stop_daemons_at_once(client: MasterClient, stopwaitsecs: float) -> None:
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
    deadline = time.monotonic() + stopwaitsecs + 10
    while any(info["group"] in groups and info["statename"] in ("RUNNING", "STARTING", "STOPPING", "BACKOFF")
              for info in client.processes()):
        if time.monotonic() > deadline:
            break  # supervisord's own shutdown below still stops (and kills) what is left
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
    # The daemon that may take longest to drain (calibre: a whole conversion) sets the wait.
    stop_wait = max([config.orchestrator.stopwaitsecs, *(d.stopwaitsecs or 0 for d in config.enabled)])
    try:
        _stop_daemons_at_once(client, stop_wait)
        client.supervisor.shutdown()
    except (OSError, xmlrpc.client.Error) as exc:
        return fail(f"cannot ask the master (pid {pid}) to stop: {exc}")
    deadline = time.monotonic() + stop_wait + 15
    while pid_running(pid):
        if time.monotonic() > deadline:
            return fail(f"the master (pid {pid}) is still running after {stop_wait + 15} s")
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
                          f"and run {command(config, 'reload')}")
    raise MasterError(f"daemon {name!r} is not in the running master: run {command(config, 'reload')}")


def _group_call(method: str, name: str, client: MasterClient, wait: bool) -> None:
    try:
        getattr(client.supervisor, method)(name, wait)
    except xmlrpc.client.Fault as exc:
        raise MasterError(f"{method} {name}: {exc.faultString}") from exc


def _one(config: Config, name: str, action: str) -> int:
    try:
        client = launch.running_client(config)
        _known_group(client, config, name)
        store = RecordStore(client.files.records)
        if action in ("stop", "restart"):
            _group_call("stopProcessGroup", name, client, True)
        if action in ("start", "restart"):
            launch.refuse_old_script_daemons(config, [config.daemon(name)])
            privileges.prepare(config, config.daemon(name))  # its directories may have gone meanwhile
            store.clear_crash_loop(name)
            _group_call("startProcessGroup", name, client, False)
            launch.wait_settled(client, [name], launch.settle_timeout(config))
    except (MasterError, privileges.AccountError) as exc:
        return fail(str(exc))
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
        return fail(f"no log for {name} yet in {files.log_dir} (it has not run under this log_dir)")
    tail_command = shutil.which("tail")
    if tail_command is None:
        return fail("`tail` not found: apt-get install coreutils")
    command = [tail_command, "-n", str(lines), *(["-F"] if follow else []), *map(str, logs)]
    try:
        return subprocess.run(command).returncode
    except KeyboardInterrupt:
        return EXIT_OK




# -- reload ---------------------------------------------------------------------------------------
def reload(config: Config) -> int:
    """Apply the edited INI; see orchestrator.reload."""
    return reload_module.apply(config)
