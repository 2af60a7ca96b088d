"""`check-config`: every problem of a config in one run, each line starting with the file it is in.

The INI's keys, the handlers (they must import, and their options must pass their OPTIONS_SPEC), the
system users the daemons run as and what they must reach (orchestrator.spawn_checks), and the paths
the master and the daemons need.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from pathlib import Path

from daemons.rpc.loader import HandlerError, option_problems, options_spec
from daemons.rpc.settings import DaemonSettings
from orchestrator import spawn_checks
from orchestrator.config import BUILTIN, Config, ConfigError, load, locate


def problems(path: str | None) -> tuple[Config | None, str, list[str]]:
    """The config (None when it cannot be read as a whole), its source and every problem, as sentences."""
    try:
        config: Config | None = load(path)
    except ConfigError as exc:
        located = locate(path)
        source = str(located) if located is not None else BUILTIN
        found = str(exc).splitlines()
        daemons = [d for d in exc.daemons.values() if d.enabled is True]
        more = daemon_problems(source, daemons)
        if exc.partial is not None:
            try:
                more += spawn_checks.problems(exc.partial, daemons) + _path_problems(exc.partial)
            except (TypeError, ValueError, OSError):
                pass  # a value too broken to check further is already reported above
        # ftp_monitor's log_file and log_format are checked by the INI and again as options: say it once.
        more = [line for line in more if line.replace("[[[options]]] ", "") not in found]
        return None, source, found + list(dict.fromkeys(more))
    assert config is not None
    return config, config.source, (daemon_problems(config.source, config.enabled)
                                   + spawn_checks.problems(config, config.enabled) + _path_problems(config))


def daemon_problems(source: str, daemons: Iterable[DaemonSettings]) -> list[str]:
    """Handlers that do not import or reject their options, or whose structures do not import: one line
    each (also reload's pre-check; users, python_path and directory are orchestrator.spawn_checks')."""
    found: list[str] = []
    for settings in daemons:
        found += [f"{source}: {line}" for line in _handler_problems(settings)]
    return found


def _handler_problems(settings: DaemonSettings) -> list[str]:
    where = f"[daemons] [[{settings.name}]]"
    try:
        spec = options_spec(settings)
    except HandlerError as exc:
        reason = str(exc).removeprefix(f"handler {settings.handler!r}: ").removeprefix(f"daemon {settings.name}: ")
        if "; expected" not in reason and "expected " not in reason:
            reason += "; expected module:callable naming a function of that module"
        return [f"{where} handler = {settings.handler!r}: {reason}"]
    except Exception as exc:  # an import error names the handler, not our code
        return [f"{where} handler = {settings.handler!r}: cannot import: {type(exc).__name__}: {exc}; "
                f"expected module:callable that this Python can import"]
    found = option_problems(settings.name, settings.options, spec)[1]
    for module in settings.structures:
        try:
            importlib.import_module(module)
        except Exception as exc:  # the module's own import error, named
            found.append(f"{where} structures: {module!r} cannot be imported: {type(exc).__name__}: {exc}; "
                         f"expected modules this Python can import, separated by commas")
    return found


def _creatable_dir(label: str, path: Path) -> str | None:
    """A directory the master makes when missing: it must be a directory, or creatable by this user."""
    if path.exists():
        if not path.is_dir():
            return f"{label} = {str(path)!r}: not a directory; expected a directory (or a path to create one at)"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{label} = {str(path)!r}: not writable by uid {os.geteuid()}; expected a directory it can write"
        return None
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return (f"{label} = {str(path)!r}: cannot be created, {str(parent)!r} is not a directory uid "
                f"{os.geteuid()} can write; expected a path it can create")
    return None


def _path_problems(config: Config) -> list[str]:
    found = []
    orch = config.orchestrator
    for label, path in (("[orchestrator] state_dir", orch.state_dir), ("[orchestrator] log_dir", orch.log_dir)):
        problem = _creatable_dir(label, path)
        if problem:
            found.append(problem)
    amqp = config.amqp
    if amqp.ssl:
        for key in ("ssl_ca", "ssl_cert", "ssl_key"):
            value = getattr(amqp, key)
            if value and not Path(value).expanduser().is_file():
                what = "a directory" if Path(value).expanduser().is_dir() else "not found"
                found.append(f"[amqp] {key} = {value!r}: {what}; expected a PEM file")
    names = {d.name for d in config.enabled}
    if names & {"ftp_manager", "ftp_monitor"}:
        passwd = Path(str(config.ftp.get("passwd_file", ""))).expanduser()
        if passwd.is_dir():
            found.append(f"[ftp] passwd_file = {str(passwd)!r}: a directory; expected a file (ProFTPD AuthUserFile)")
        home = Path(str(config.ftp.get("home_root", ""))).expanduser()
        if home.exists() and not home.is_dir():
            found.append(f"[ftp] home_root = {str(home)!r}: not a directory; expected the directory of users' homes")
    if "ftp_monitor" in names:
        log_file = config.daemon("ftp_monitor").options.get("log_file")
        if log_file and Path(str(log_file)).expanduser().is_dir():
            found.append(f"[daemons] [[ftp_monitor]] log_file = {log_file!r}: a directory; expected the "
                         f"ProFTPD ExtendedLog file")
    return [f"{config.source}: {line}" for line in found]
