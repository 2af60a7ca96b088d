"""Who each daemon runs as, what that user must reach, and the files it must own before it is spawned.

Rules (docs/operations.rst, "Least privilege"): a master that runs as root starts each worker as the
daemon's `user` (supervisord's `user =`: that user's primary group and supplementary groups) and first
hands it its directories; a master that is not root cannot switch users (supervisord refuses), so every
daemon runs as the master's user and `user` is not used. `group` names the group of the daemon's
directories; the user must be in it, so the worker has the group's rights as well.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import daemons
from daemons.rpc.settings import DaemonSettings
from orchestrator.config import BUILTIN, Config

NO_SWITCH = ("", "root")


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int  # the group of the daemon's directories
    groups: frozenset[int]  # every group the worker has
    home: str


class AccountError(ValueError):
    """A daemon's `user` or `group` cannot be used; the text says which and how to fix it."""


def master_is_root() -> bool:
    return os.geteuid() == 0


def switches_user(settings: DaemonSettings) -> bool:
    """Whether the master starts this daemon as another user (only a root master can)."""
    return master_is_root() and settings.user not in NO_SWITCH


def account(settings: DaemonSettings) -> Account:
    where = f"[daemons] [[{settings.name}]]"
    try:
        user = pwd.getpwnam(settings.user)
    except KeyError:
        raise AccountError(
            f"{where} user = {settings.user!r}: no such user; create it (`useradd --system {settings.user}`, "
            f"which `make setup` does for edeposit) or set `user` in [orchestrator] or in this section"
        ) from None
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}
    gid = user.pw_gid
    if settings.group:
        try:
            gid = grp.getgrnam(settings.group).gr_gid
        except KeyError:
            raise AccountError(f"{where} group = {settings.group!r}: no such group; create it "
                               f"(`groupadd --system {settings.group}`) or leave `group` empty") from None
        if gid not in groups:
            raise AccountError(f"{where} group = {settings.group!r}: user {settings.user!r} is not in that group; "
                               f"add it (`usermod -aG {settings.group} {settings.user}`)")
    return Account(user.pw_name, user.pw_uid, gid, frozenset(groups), user.pw_dir)


def may(path: Path, who: Account, read: bool = False, write: bool = False, execute: bool = False) -> bool:
    """Whether `who` may use `path` so (every directory above it must let `who` pass), by mode bits."""
    try:
        resolved = path.resolve()
        for parent in reversed(resolved.parents):
            if not _allowed(parent.stat(), who, stat.S_IXUSR):
                return False
        info = resolved.stat()
    except OSError:
        return False
    wanted = (stat.S_IRUSR if read else 0) | (stat.S_IWUSR if write else 0) | (stat.S_IXUSR if execute else 0)
    return _allowed(info, who, wanted)


def _allowed(info: os.stat_result, who: Account, owner_bits: int) -> bool:
    if info.st_uid == who.uid:
        shift = 0
    elif info.st_gid in who.groups:
        shift = 3
    else:
        shift = 6
    bits = owner_bits >> shift
    return info.st_mode & bits == bits


def problems(config: Config, settings: DaemonSettings) -> list[str]:
    """Why the worker of `settings`, as its user, could not start; empty when it can (or no switch)."""
    if not switches_user(settings):
        return []
    try:
        who = account(settings)
    except AccountError as exc:
        return [f"{config.source}: {exc}"]
    where = f"{config.source}: [daemons] [[{settings.name}]] user = {settings.user!r}"
    needs = [(Path(sys.executable).resolve(), "the Python interpreter", dict(read=True, execute=True)),
             (Path(os.__file__).parent, "the Python standard library", dict(read=True, execute=True)),
             (Path(sys.prefix), "the Python environment", dict(read=True, execute=True)),
             (Path(daemons.__file__).parent.parent, "the edeposit-amqpd code", dict(read=True, execute=True)),
             (config.orchestrator.state_dir, "state_dir", dict(execute=True))]
    if not config.source.startswith(BUILTIN):
        needs.append((Path(config.source), "the config file", dict(read=True)))
    password_file = (config.raw.get("amqp") or {}).get("password_file")
    if password_file:
        needs.append((Path(password_file).expanduser(), "[amqp] password_file", dict(read=True)))
    needs += [(Path(path), "python_path", dict(read=True, execute=True)) for path in settings.python_path]
    if settings.directory:
        needs.append((Path(settings.directory), "directory", dict(execute=True)))
    found: list[str] = []
    for number, (path, what, access) in enumerate(needs):
        if number < 4 and found:
            continue  # one line for the code it runs: the fix is the same
        if path.exists() and not may(path, who, **access):
            fix = ("install edeposit-amqpd where that user can read it (e.g. under /opt), let it pass the "
                   "directories above (`chmod o+x`), or set `user =` empty to keep the daemons with the "
                   "master's user") if number < 4 else "give it access (`chmod o+x` on the directories above, " \
                "or make it the owner of a file only it needs)"
            found.append(f"{where}: that user cannot {'read' if access.get('read') else 'reach'} {what} {path}; "
                         f"{fix}")
    return found


def prepare(config: Config, settings: DaemonSettings) -> None:
    """Hand the daemon's user its directories and files (the master runs as root, before spawning)."""
    if not switches_user(settings):
        return
    who = account(settings)
    state_dir = config.orchestrator.state_dir
    metrics = config.orchestrator.metrics_dir
    nodes = state_dir / "nodes"  # daemons.rpc.nodes.NodeReport: the node each process is connected to
    for shared in (state_dir, state_dir / "inflight", state_dir / "notes", state_dir / "run", metrics, nodes):
        shared.mkdir(parents=True, exist_ok=True)
    for own in (settings.data_dir, state_dir / "inflight" / settings.name, metrics / settings.name,
                nodes / settings.name):
        own.mkdir(parents=True, exist_ok=True)
        _own_tree(own, who)
    note = settings.health_note_path
    note.touch(exist_ok=True)
    os.chown(note, who.uid, who.gid, follow_symlinks=False)
    # Opened read-only by the worker, which takes a shared lock: root may keep it.
    (state_dir / "run" / f"{settings.name}.owner").touch(mode=0o644, exist_ok=True)


def _own_tree(path: Path, who: Account) -> None:
    """chown a directory tree to `who`; a tree whose top the user already owns is left as it is."""
    info = path.lstat()
    if (info.st_uid, info.st_gid) == (who.uid, who.gid):
        return
    os.chown(path, who.uid, who.gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), who.uid, who.gid, follow_symlinks=False)


def prepare_metrics(config: Config) -> None:
    """The workers' metric files share one directory, which each daemon's user must write: under a root
    master it belongs to that user when all switched daemons have one user (mode 0755), else it is
    shared like /tmp (mode 1777: each user may remove only its own files). Root daemons write anyway."""
    accounts = {(who.uid, who.gid) for who in (account(d) for d in config.enabled if switches_user(d))}
    if not accounts:
        return
    path = config.orchestrator.metrics_dir
    path.mkdir(parents=True, exist_ok=True)
    if len(accounts) == 1:
        [(uid, gid)] = accounts
        os.chown(path, uid, gid, follow_symlinks=False)
        path.chmod(0o755)
    else:
        path.chmod(0o1777)
