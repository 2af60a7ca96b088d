"""`edeposit-amqpd reload`: apply an edited INI to the running master, restarting only what changed."""

from __future__ import annotations

import sys
import xmlrpc.client

from daemons.rpc.settings import DaemonSettings
from orchestrator import reload_plan, spawn_checks
from orchestrator.config import Config
from orchestrator.control import MASTER_PROGRAMS, MasterClient, MasterFiles
from orchestrator.launch import (
    EXIT_OK,
    MasterError,
    fail,
    mark_log_offsets,
    preflight,
    running_client,
    settle_timeout,
    summary,
    wait_settled,
    write_conf,
)
from orchestrator.records import RecordStore
from orchestrator.supervisor_conf import SocketPathTooLong, render

EXIT_CONFIG = 2


def _changed_groups(client: MasterClient) -> tuple[list[str], list[str], list[str]]:
    added, changed, removed = client.supervisor.reloadConfig()[0]
    return list(added), list(changed), list(removed)


def _remove_group(client: MasterClient, name: str) -> None:
    try:
        client.supervisor.stopProcessGroup(name, True)
    except xmlrpc.client.Fault:
        pass
    client.supervisor.removeProcessGroup(name)


def _swap_groups(client: MasterClient, files: MasterFiles, by_name: dict[str, DaemonSettings], added: list[str],
                 changed: list[str], removed: list[str]) -> None:
    """Stop removed and changed daemons, then start changed and added ones with a fresh history."""
    store = RecordStore(files.records)
    for name in removed + changed:
        _remove_group(client, name)
    for name in removed:
        store.forget(name)
    for name in changed + added:
        if name not in MASTER_PROGRAMS:
            store.forget(name)
            mark_log_offsets(store, files, [by_name[name]])
        client.supervisor.addProcessGroup(name)


def _reload_problems(config: Config, files: MasterFiles) -> list[str]:
    """Handlers of the daemons reload would (re)start must import and accept their options."""
    try:
        old_conf = files.conf.read_text()
    except OSError:
        old_conf = ""
    spawn = spawn_checks.problems(config, config.enabled)
    if spawn:
        return spawn
    try:
        new_conf = render(config, files)
    except SocketPathTooLong as exc:
        return [str(exc)]
    starting = set(reload_plan.added_or_changed(old_conf, new_conf))
    return reload_plan.handler_problems(config.source, [d for d in config.enabled if d.name in starting])


def apply(config: Config) -> int:
    """Apply the edited INI (the CLI has validated it): add, remove, and restart only the daemons whose
    settings changed; refuse, changing nothing, when a handler to be (re)started cannot be loaded."""
    try:
        client = running_client(config)
        files = client.files
        preflight(config, config.enabled)
        problems = _reload_problems(config, files)
        if problems:
            print("config error (nothing was changed):\n" + "\n".join(problems), file=sys.stderr)
            return EXIT_CONFIG
        write_conf(config, files)
        added, changed, removed = _changed_groups(client)
    except MasterError as exc:
        return fail(str(exc))
    except xmlrpc.client.Fault as exc:
        return fail(f"the master refused the new config: {exc.faultString}")
    by_name = {d.name: d for d in config.enabled}
    try:
        _swap_groups(client, files, by_name, added, changed, removed)
    except xmlrpc.client.Fault as exc:
        return fail(f"the master could not apply the new config: {exc.faultString}; "
                    f"see `edeposit-amqpd status`, then `edeposit-amqpd reload` again")
    daemons = [name for name in added + changed if name not in MASTER_PROGRAMS]
    wait_settled(client, daemons, settle_timeout(config))
    unchanged = sorted(set(by_name) - set(added) - set(changed))
    for label, names in (("added", added), ("restarted", changed), ("removed", removed), ("unchanged", unchanged)):
        shown = [n for n in names if n not in MASTER_PROGRAMS]
        print(f"{label}: {', '.join(shown) if shown else '-'}")
    if not daemons:
        return EXIT_OK
    return summary(config, daemons)
