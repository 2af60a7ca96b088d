"""Renders the supervisord config that runs every enabled daemon, from the one INI.

Each daemon's program section carries a fingerprint of everything its worker reads, so supervisord's
own `reloadConfig` tells exactly which daemons `reload` must restart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
import sys
from typing import Any

from daemons.rpc.metrics import MULTIPROC_ENV
from daemons.rpc.runner import EXIT_WITH_PARENT_ENV
from daemons.rpc.settings import DaemonSettings
from orchestrator import privileges
from orchestrator.config import BUILTIN, Config
from orchestrator.control import EXPORTER_NAME, LISTENER_NAME, MAX_SOCKET_PATH, MasterFiles, read_credentials

SETTINGS_ENV = "EDEPOSIT_AMQPD_SETTINGS"


class SocketPathTooLong(ValueError):
    """The control socket would not fit a unix socket address."""


def fingerprint(config: Config, settings: DaemonSettings) -> str:
    """A digest of what the worker of `settings` reads: its section, [amqp], [ftp] and the config file."""
    payload = {
        "daemon": dataclasses.asdict(settings),
        "log_format": config.orchestrator.log_format,
        "amqp": dataclasses.asdict(config.amqp),
        "ftp": config.ftp,
        "source": config.source,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def worker_command(config: Config, name: str) -> list[str]:
    """The command supervisord runs for one worker of daemon `name`."""
    command = [sys.executable, "-m", "orchestrator"]
    if not config.source.startswith(BUILTIN):
        command += ["-c", config.source]
    return command + ["worker", name]


def exporter_command(config: Config) -> list[str]:
    command = [sys.executable, "-m", "orchestrator.exporter"]
    return command + ([] if config.source.startswith(BUILTIN) else ["-c", config.source])


def listener_command(config: Config) -> list[str]:
    orch = config.orchestrator
    return [sys.executable, "-m", "orchestrator.listener", "--state-dir", str(orch.state_dir),
            "--log-dir", str(orch.log_dir), "--crash-limit", str(orch.crash_limit),
            "--crash-window", str(orch.crash_window)]


def _escape(value: Any) -> str:
    """supervisord expands %(name)s in most values: a literal % must be doubled."""
    return str(value).replace("%", "%%")


def _escape_logfile(value: Any) -> str:
    """Note: supervisord expands a program's log file name twice, so its % must be doubled twice."""
    return _escape(_escape(value))


def _command(argv: list[str]) -> str:
    return _escape(shlex.join(argv))


def _section(title: str, values: dict[str, Any]) -> str:
    lines = [f"[{title}]"] + [f"{key} = {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _environment(config: Config, settings: DaemonSettings) -> dict[str, str]:
    """The daemon's `environment`, the user's HOME/USER/LOGNAME (supervisord keeps root's), then ours."""
    environment = dict(entry.partition("=")[::2] for entry in settings.environment)
    if privileges.switches_user(settings):
        account = privileges.account(settings)
        environment.update(HOME=account.home, USER=account.name, LOGNAME=account.name)
    return {**environment, "PYTHONUNBUFFERED": "1", EXIT_WITH_PARENT_ENV: "1",
            SETTINGS_ENV: fingerprint(config, settings)}


def _process(settings: DaemonSettings) -> dict[str, Any]:
    """supervisord's `user` (a root master only: others cannot switch) and `directory`."""
    values: dict[str, Any] = {}
    if privileges.switches_user(settings):
        values["user"] = settings.user
    if settings.directory:
        values["directory"] = _escape(settings.directory)
    return values


def _program(config: Config, files: MasterFiles, settings: DaemonSettings) -> str:
    orch = config.orchestrator
    many = settings.processes > 1
    log = files.log_dir / (f"{settings.name}-" if many else settings.name)
    environment = _environment(config, settings)
    if orch.metrics_address is not None:
        environment[MULTIPROC_ENV] = str(orch.metrics_dir / settings.name)  # the daemon's user owns it
    return _section(f"program:{settings.name}", {
        **_process(settings),
        "command": _command(worker_command(config, settings.name)),
        "process_name": "%(program_name)s_%(process_num)02d" if many else "%(program_name)s",
        "numprocs": settings.processes,
        "autostart": "true",
        "autorestart": "true",
        "startsecs": orch.startsecs,
        "startretries": orch.startretries,
        "stopsignal": "TERM",
        "stopwaitsecs": settings.stopwaitsecs or orch.stopwaitsecs,
        "stopasgroup": "true",
        "killasgroup": "true",
        "redirect_stderr": "true",
        "stdout_logfile": _escape_logfile(log) + ("%(process_num)d.log" if many else ".log"),
        "stdout_logfile_maxbytes": orch.log_max_bytes,
        "stdout_logfile_backups": orch.log_backups,
        "environment": ",".join(f'{key}="{_escape(value)}"' for key, value in environment.items()),
    })


def _exporter(config: Config, files: MasterFiles) -> str:
    """The metrics endpoint: restarted when it dies, never counted as a daemon."""
    orch = config.orchestrator
    return _section(f"program:{EXPORTER_NAME}", {
        "command": _command(exporter_command(config)),
        "autostart": "true",
        "autorestart": "true",
        "startsecs": 1,
        "startretries": 3,
        "priority": 2,
        "stopsignal": "TERM",
        "stopasgroup": "true",
        "killasgroup": "true",
        "redirect_stderr": "true",
        "stdout_logfile": _escape_logfile(files.exporter_log),
        "stdout_logfile_maxbytes": orch.log_max_bytes,
        "stdout_logfile_backups": orch.log_backups,
        "environment": f'PYTHONUNBUFFERED="1",{EXIT_WITH_PARENT_ENV}="1"',
    })


def render(config: Config, files: MasterFiles | None = None) -> str:
    """The whole supervisord.conf: control socket, master log, the event listener, one program per daemon."""
    files = files or MasterFiles.for_config(config)
    if len(str(files.socket)) > MAX_SOCKET_PATH:
        raise SocketPathTooLong(
            f"{config.source}: [orchestrator] state_dir = {str(files.state_dir)!r}: the control socket path "
            f"{files.socket} is longer than {MAX_SOCKET_PATH} bytes; choose a shorter state_dir"
        )
    orch = config.orchestrator
    # The credentials of this master's start (control.new_credentials): the CLI sends them with each call.
    credentials = read_credentials(files.credentials)
    auth = {"username": _escape(credentials[0]), "password": _escape(credentials[1])} if credentials else {}
    # As root, `user = root` says that staying root is meant (supervisord logs CRIT otherwise); each
    # daemon's own `user =` drops its privileges.
    as_root = {"user": "root"} if os.geteuid() == 0 else {}
    parts = [
        f"; Generated by edeposit-amqpd from {config.source}. Do not edit: edit that file and run "
        f"`edeposit-amqpd reload`.\n",
        _section("unix_http_server", {"file": _escape(files.socket), "chmod": "0700", **auth}),
        _section("supervisord", {
            **as_root,
            "logfile": _escape(files.master_log),
            "logfile_maxbytes": orch.log_max_bytes,
            "logfile_backups": orch.log_backups,
            "loglevel": "info",
            "pidfile": _escape(files.pidfile),
            "childlogdir": _escape(files.log_dir),
            "identifier": "edeposit-amqpd",
        }),
        _section("rpcinterface:supervisor", {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface",
        }),
        _section("supervisorctl", {"serverurl": _escape(f"unix://{files.socket}"), **auth}),
        _section(f"eventlistener:{LISTENER_NAME}", {
            "command": _command(listener_command(config)),
            "events": "PROCESS_STATE",
            "buffer_size": 1024,
            "priority": 1,
            "autorestart": "true",
            "startsecs": 0,
            "stopasgroup": "true",
            "stdout_logfile": "NONE",
            "stderr_logfile": _escape_logfile(files.listener_log),
            "stderr_logfile_maxbytes": orch.log_max_bytes,
            "stderr_logfile_backups": orch.log_backups,
            "environment": f'PYTHONUNBUFFERED="1",{EXIT_WITH_PARENT_ENV}="1"',
        }),
    ]
    if orch.metrics_address is not None:
        parts.append(_exporter(config, files))
    parts += [_program(config, files, settings) for settings in config.enabled]
    return "\n".join(parts)
