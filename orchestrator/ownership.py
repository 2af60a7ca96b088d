"""Who runs a daemon: the master or an old per-daemon script, never both (the owner lock, daemonize.py).

The master refuses to start a daemon an old script runs, and a script refuses a daemon the master runs;
both messages name the running pid and the command that stops it. The locks make it hold even when both
start at the same moment: a worker the master spawns exits at once if a script holds the daemon.
"""

from __future__ import annotations

import os
import shlex
import xmlrpc.client
from pathlib import Path

from daemons.common.processes import process_command
from daemons.rpc import daemonize
from orchestrator.advice import cli
from orchestrator.config import BUILTIN, Config
from orchestrator.control import MasterClient, MasterFiles
from orchestrator.paths import SYSTEM_CONFIG
from orchestrator.script_names import OLD_SCRIPTS

# supervisord states in which the master runs (or is about to run) a daemon's process.
ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "BACKOFF", "STOPPING"})
_SCRIPT_OF = {daemon: script for script, daemon in OLD_SCRIPTS.items()}


def pidfile(config: Config, name: str) -> Path:
    return config.orchestrator.state_dir / "run" / f"{name}.pid"


def owner_file(config: Config, name: str) -> Path:
    return daemonize.owner_path(pidfile(config, name))


def _section(config: Config, name: str) -> str:
    source = SYSTEM_CONFIG if config.source.startswith(BUILTIN) else config.source
    return f"[daemons] [[{name}]] of {source}"


def old_script_holder(config: Config, name: str) -> str | None:
    """Why the master must not run `name`: an old script runs it (pid, command, how to stop it), or None."""
    path = pidfile(config, name)
    pid = daemonize.running_pid(path)
    if pid is None or pid == os.getpid():
        return None
    command = process_command(pid)
    shown = f", command: {shlex.join(command)}" if command else ""
    script = _SCRIPT_OF.get(name)
    how = f"`{script} stop`" if script else f"`kill {pid}` (it answers the message in hand, then exits)"
    return (f"daemon {name} is already run by an old per-daemon script (pid {pid}, pidfile {path}{shown}); "
            f"stop it with {how}, or set `enabled = false` in {_section(config, name)}")


def master_holder(config: Config, name: str) -> str | None:
    """Why an old script must not run `name`: the master runs it (its pids, how to stop it), or None."""
    client = MasterClient(MasterFiles.for_config(config))
    if not client.is_running():
        return None
    try:
        active = [info for info in client.processes()
                  if info["group"] == name and info["statename"] in ACTIVE_STATES]
        master = client.pid()
    except (OSError, xmlrpc.client.Error):
        return None
    if not active:
        return None
    pids = [info["pid"] for info in active if info["pid"]]
    workers = ", ".join(map(str, pids)) or "starting"
    return (f"already run by the edeposit-amqpd master (supervisord pid {master}, worker pid {workers}); "
            f"stop it there with `{cli(config)} stop {name}` first, and set `enabled = false` in "
            f"{_section(config, name)} so that start-all leaves it to the script")


def claim_for_worker(config: Config, name: str) -> int:
    """A worker of the master takes its share of the owner lock; OwnedElsewhere names the old script."""
    try:
        return daemonize.claim(owner_file(config, name), exclusive=False)
    except daemonize.OwnedElsewhere as exc:
        reason = old_script_holder(config, name)
        raise daemonize.OwnedElsewhere(reason or f"daemon {name} is being started by an old per-daemon script "
                                                 f"({exc})") from None
