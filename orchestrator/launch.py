"""Getting a master going: broker checks, the generated config, supervisord itself, and waiting for the
daemons to come up (or fail). Shared by start-all, run, start/restart NAME and reload."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from daemons.common.atomic import write_atomically
from daemons.rpc.runner import exit_with_parent
from daemons.rpc.settings import DaemonSettings
from orchestrator import privileges, spawn_checks
from orchestrator import status as status_module
from orchestrator.advice import cli, command
from orchestrator.broker_checks import BrokerUnreachable, MissingVhosts, check_vhosts
from orchestrator.config import Config
from orchestrator.control import MasterClient, MasterFiles, new_credentials
from orchestrator.records import RecordStore
from orchestrator.supervisor_conf import SocketPathTooLong, render

EXIT_OK = 0
EXIT_FAILED = 1
SETTLED = ("RUNNING", "FATAL", "STOPPED", "EXITED")
MASTER_START_TIMEOUT = 20.0


class MasterError(RuntimeError):
    """A master command cannot go on; the text says why and what to do."""


def fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def running_client(config: Config) -> MasterClient:
    client = MasterClient(MasterFiles.for_config(config))
    if not client.is_running():
        raise MasterError(
            f"the master is not running (no answer on {client.files.socket}): run {command(config, 'start-all')}"
        )
    return client


def preflight(config: Config, daemons: Iterable[DaemonSettings]) -> None:
    """The broker must answer and every vhost must exist before anything is spawned."""
    try:
        check_vhosts(config.amqp, daemons, cli=cli(config))
    except (BrokerUnreachable, MissingVhosts) as exc:
        raise MasterError(str(exc)) from exc


def check_spawnable(config: Config, daemons: Iterable[DaemonSettings]) -> None:
    """Each worker's user, paths and directories must be usable before anything is spawned."""
    found = spawn_checks.problems(config, daemons)
    if found:
        raise MasterError("\n".join(found))


def write_conf(config: Config, files: MasterFiles) -> None:
    """The supervisord config, and each daemon's files handed to the user it runs as."""
    try:
        text = render(config, files)
        files.state_dir.mkdir(parents=True, exist_ok=True)
        for settings in config.enabled:
            privileges.prepare(config, settings)
    except (SocketPathTooLong, privileges.AccountError) as exc:
        raise MasterError(str(exc)) from exc
    files.log_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(files.conf, text, mode=0o600, durable=False)


def mark_log_offsets(store: RecordStore, files: MasterFiles, daemons: Iterable[DaemonSettings]) -> None:
    """Old logs may hold old tracebacks: a daemon's exit reason is only searched in what follows."""
    for settings in daemons:
        record = store.load(settings.name)
        for number, path in enumerate(files.daemon_logs(settings.name, settings.processes)):
            process = settings.name if settings.processes == 1 else f"{settings.name}_{number:02d}"
            record.log_offsets[process] = path.stat().st_size if path.exists() else 0
        store.save(record)


def refuse_old_script_daemons(config: Config, daemons: Iterable[DaemonSettings]) -> None:
    """A daemon an old per-daemon script runs is not started by the master too (orchestrator.ownership)."""
    from orchestrator.ownership import old_script_holder

    held = [reason for settings in daemons if (reason := old_script_holder(config, settings.name))]
    if held:
        raise MasterError("\n".join(held))


def prepare(config: Config) -> MasterFiles:
    """Everything a new master needs before supervisord starts: checks, its config, a clean history."""
    files = MasterFiles.for_config(config)
    refuse_old_script_daemons(config, config.enabled)
    check_spawnable(config, config.enabled)
    preflight(config, config.enabled)
    new_credentials(files)
    write_conf(config, files)
    store = RecordStore(files.records)
    store.reset()
    mark_log_offsets(store, files, config.enabled)
    reset_metrics(config.orchestrator.metrics_dir)
    privileges.prepare_metrics(config)
    return files


def reset_metrics(path: Path) -> None:
    """A new master counts from zero, as its records do: drop what the workers of an earlier one wrote.

    Each daemon writes in its own `<metrics_dir>/<name>/`, which its user owns (orchestrator.privileges).
    """
    if path.is_dir():
        for old in [*path.glob("*.db"), *path.glob("*/*.db")]:
            old.unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)


def supervisord_command(files: MasterFiles, foreground: bool) -> list[str]:
    """supervisord from the `supervisor` package of this Python, never a system one."""
    command = [sys.executable, "-m", "supervisor.supervisord", "-c", str(files.conf)]
    return command + ["-n"] if foreground else command


def spawn_foreground_supervisord(files: MasterFiles, unblock: set[signal.Signals]) -> subprocess.Popen[bytes]:
    """supervisord -n as a child in its own session (a terminal's Ctrl-C reaches only the parent), which
    gets TERM when the parent dies; `unblock`: signals the parent blocks that the child must not."""

    def in_child() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, unblock)
        exit_with_parent()

    return subprocess.Popen(supervisord_command(files, foreground=True), stdin=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=in_child)  # noqa: PLW1509 - no threads yet


def already_running(client: MasterClient, config: Config | None = None) -> bool:
    if client.is_running():
        hint = f" (to apply an edited config: {command(config, 'reload')})" if config is not None else ""
        print(f"the master is already running (pid {client.pid()}, socket {client.files.socket}); "
              f"nothing changed{hint}")
        return True
    return False


def start_supervisord(files: MasterFiles) -> MasterClient:
    """Start supervisord in the background and wait until it answers on its socket."""
    client = MasterClient(files)
    done = subprocess.run(supervisord_command(files, foreground=False), stdin=subprocess.DEVNULL,
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


def settle_timeout(config: Config) -> float:
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


def summary(config: Config, names: Sequence[str]) -> int:
    """Print the state of `names`; EXIT_OK only when all of them run."""
    report = status_module.collect(config, names, with_queues=False)
    print(status_module.render_table(config, report))
    failed = [d.name for d in report.daemons if d.state != "RUNNING"]
    if failed:
        print(f"not running: {', '.join(failed)} (see {command(config, 'tail', 'NAME')})", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
