"""Loads and validates the one INI file into settings the master and the workers use."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from configobj import ConfigObj, ConfigObjError, flatten_errors, get_extra_values
from validate import Validator

from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.rpc.settings import AMQPSettings, DaemonSettings, parse_nodes
from daemons.rpc.spec_text import closest, describe_check, describe_error, did_you_mean, is_list_check
from orchestrator import legacy_json
from orchestrator.address import parse_listen
from orchestrator.paths import CONFIG_ENV, SYSTEM_CONFIG, default_state_dir, packaged

BUILTIN = "<built-in defaults>"
_REQUIRED_CUSTOM_KEYS = ("handler", "vhost", "exchange")


class ConfigError(Exception):
    """A config that cannot be used; the text names file, section, key, value and what was expected.

    `daemons` holds the daemons that could still be read and `partial` the config as far as it could be
    read, so check-config can check their handlers, users and paths too.
    """

    def __init__(self, message: str, daemons: dict[str, DaemonSettings] | None = None,
                 partial: Config | None = None) -> None:
        super().__init__(message)
        self.daemons = daemons or {}
        self.partial = partial


@dataclass(frozen=True)
class OrchestratorSettings:
    state_dir: Path
    log_dir: Path
    startsecs: int = 2
    startretries: int = 3
    stopwaitsecs: int = 30
    crash_limit: int = 5
    crash_window: int = 60
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    log_format: str = "text"
    metrics_listen: str = "127.0.0.1:9464"
    metrics_queue_interval: float = 10.0

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """Where the exporter listens, or None when metrics are off (docs/monitoring.rst)."""
        return parse_listen(self.metrics_listen)

    @property
    def metrics_dir(self) -> Path:
        """Where workers write their metric files (prometheus_client multiprocess mode)."""
        return self.state_dir / "metrics"
    # The user every daemon runs as when the master runs as root ("": the master's own), and the group
    # of the daemons' directories ("": that user's primary group). A daemon's section may set its own.
    user: str = "edeposit"
    group: str = ""


@dataclass
class Config:
    """A validated config; `source` is the file it came from (or BUILTIN)."""

    source: str
    amqp: AMQPSettings
    orchestrator: OrchestratorSettings
    ftp: dict[str, Any]
    daemons: dict[str, DaemonSettings]
    management_url: str | None = None
    warnings: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def daemon(self, name: str) -> DaemonSettings:
        try:
            return self.daemons[name]
        except KeyError:
            known = ", ".join(sorted(self.daemons))
            raise ConfigError(f"{self.source}: no daemon named {name!r}{did_you_mean(name, self.daemons)} "
                              f"(known: {known})") from None

    @property
    def enabled(self) -> list[DaemonSettings]:
        return [d for d in self.daemons.values() if d.enabled]


def locate(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The lookup order of the design: -c, $EDEPOSIT_AMQPD_CONFIG, /etc, else None (built-in)."""
    if path:
        return Path(path)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    if SYSTEM_CONFIG.exists():
        return SYSTEM_CONFIG
    return None


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Find, parse and validate the config; raise ConfigError with a readable reason."""
    located = locate(path)
    warnings: list[str] = []
    if located is not None:
        if not located.is_file():
            raise ConfigError(f"{located}: config file not found (given by -c or ${CONFIG_ENV})")
        source = str(located)
        obj = _parse(located, source)
    else:
        source = BUILTIN
        obj = _parse(packaged("edeposit-amqpd.ini"), source)
        legacy = legacy_json.find_legacy_settings()
        if legacy is not None:
            try:
                values, warning = legacy_json.load_legacy(legacy)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
            obj.merge(values)
            source = f"{BUILTIN} + {legacy}"
            warnings.append(warning)
    config = _build(obj, source, warnings)
    if located is not None:
        _warn_shadowed_legacy(config)
    return config


def _warn_shadowed_legacy(config: Config) -> None:
    """Old JSON settings beside an INI are ignored: say so, and which of their keys would have mattered."""
    legacy = legacy_json.find_legacy_settings()
    if legacy is None:
        return
    current = {
        "amqp": {"host": config.amqp.host, "port": config.amqp.port, "user": config.amqp.user,
                 "password": config.amqp.password},
        "daemons": {name: {key: getattr(d, key) for key in
                           ("vhost", "exchange", "input_queue", "output_queue", "input_key", "output_key")}
                    for name, d in config.daemons.items()},
    }
    config.warnings.append(legacy_json.shadowed_warning(legacy, config.source, current))


def _parse(path: Path, source: str) -> ConfigObj:
    try:
        return ConfigObj(
            str(path),
            configspec=str(packaged("configspec.ini")),
            file_error=True,
            interpolation=False,
            encoding="utf-8",
        )
    except (ConfigObjError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot parse: {exc}") from exc


def _build(obj: ConfigObj, source: str, warnings: list[str]) -> Config:
    obj.setdefault("daemons", {})
    for name in BUILTIN_DAEMONS:
        # Every built-in daemon exists, configured or not: old clients need no set-up.
        obj["daemons"].setdefault(name, {})
    result = obj.validate(Validator(), preserve_errors=True, copy=True)
    # Every problem is collected before giving up, so one run of check-config lists them all.
    problems = _describe_errors(obj, result, source) + _describe_extras(obj, source)
    amqp_section = _set(obj["amqp"])
    management_url = amqp_section.pop("management_url", None)
    amqp_section.pop("password_file", None)
    queue_type = amqp_section.get("queue_type")
    if "host" in amqp_section:
        try:
            amqp_section["host"] = _hosts(amqp_section["host"], amqp_section.get("port", AMQPSettings.port), source)
        except ConfigError as exc:
            problems.append(str(exc))
            amqp_section.pop("host")
    try:
        password = _password(obj["amqp"], source)
    except ConfigError as exc:
        problems.append(str(exc))
        password = AMQPSettings.password
    amqp = AMQPSettings(**_known(AMQPSettings, {**amqp_section, "password": password}))
    orch = _set(obj["orchestrator"])
    state_dir = Path(orch.pop("state_dir", None) or default_state_dir()).expanduser()
    log_dir = Path(orch.pop("log_dir", None) or state_dir / "log").expanduser()
    orchestrator = OrchestratorSettings(state_dir=state_dir, log_dir=log_dir, **_known(OrchestratorSettings, orch))
    try:
        parse_listen(orchestrator.metrics_listen)
    except (ValueError, TypeError) as exc:
        problems.append(f"{source}: [orchestrator] metrics_listen = {orchestrator.metrics_listen!r}: {exc}")
    ftp = dict(obj["ftp"])
    daemons = {}
    for name, section in obj["daemons"].items():
        try:
            daemons[name] = _daemon(name, section, orchestrator, ftp, source, queue_type)
        except ConfigError as exc:
            problems.append(str(exc))
    config = Config(
        source=source,
        amqp=amqp,
        orchestrator=orchestrator,
        ftp=ftp,
        daemons=daemons,
        management_url=management_url,
        warnings=warnings,
        raw=obj.dict(),
    )
    if problems:
        raise ConfigError("\n".join(problems), daemons, config)
    return config


def _set(section: Any) -> dict[str, Any]:
    """The keys a section sets (the configspec leaves the others None; the settings classes hold defaults)."""
    return {key: value for key, value in section.items() if value is not None and not isinstance(value, dict)}


def _known(cls: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Only the keys `cls` has: unknown keys are reported as problems, and must not stop the others."""
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in values.items() if key in names}


def _hosts(values: list[str], port: int, source: str) -> str:
    """The node list as one string (AMQPSettings.host), checked here so a bad node is a config error."""
    text = ", ".join(str(value).strip() for value in values)
    try:
        parse_nodes(text, port)
    except ValueError as exc:
        raise ConfigError(f"{source}: [amqp] host = {text!r}: {exc}") from None
    return text


def _password(section: Any, source: str) -> str:
    path = section.get("password_file")
    if not path:
        return section.get("password") or AMQPSettings.password
    file = Path(path).expanduser()
    if file.is_dir():
        raise ConfigError(f"{source}: [amqp] password_file = {path!r}: a directory; expected a file holding "
                          f"the password (mode 0600)")
    try:
        mode = file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{source}: [amqp] password_file = {path!r}: the file is readable by others "
                f"(mode {stat.S_IMODE(mode):04o}); expected mode 0600 or 0400: run `chmod 600 {path}`"
            )
        return file.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{source}: [amqp] password_file = {path!r}: cannot read it: {exc.strerror}") from exc


def _daemon(name: str, section: Any, orch: OrchestratorSettings, ftp: dict[str, Any], source: str,
            queue_type: str | None = None) -> DaemonSettings:
    state_dir = orch.state_dir
    values = _set(section)
    if queue_type and "queue_type" not in values:
        values["queue_type"] = queue_type  # [amqp] queue_type is every daemon's default
    options = dict(section.get("options", {}))
    if name == "ftp_monitor":
        # Its two documented keys sit in the daemon's section; its handler validates them as options.
        for key in ("log_file", "log_format"):
            if key in values:
                options.setdefault(key, values.pop(key))
    for key in ("structures", "environment", "python_path"):
        values[key] = tuple(values.get(key, ()))
    _check_process_keys(name, values, source)
    template = BUILTIN_DAEMONS.get(name)
    if template is None:
        missing = [key for key in _REQUIRED_CUSTOM_KEYS if not values.get(key)]
        near = closest(name, BUILTIN_DAEMONS)
        if "handler" in missing and near:
            raise ConfigError(
                f"{source}: [daemons] [[{name}]]: not a built-in daemon, and it names no handler: did you mean "
                f"{near}? (a daemon of your own needs {', '.join(_REQUIRED_CUSTOM_KEYS)})"
            )
        if missing:
            raise ConfigError(
                f"{source}: [daemons] [[{name}]] {missing[0]}: missing; expected a value "
                f"(a daemon of your own needs {', '.join(_REQUIRED_CUSTOM_KEYS)})"
            )
        template = DaemonSettings(name=name, handler=values["handler"], vhost=values["vhost"],
                                  exchange=values["exchange"])
    data_dir = Path(options.get("data_dir") or state_dir / name)
    # A daemon's own stopwaitsecs wins; else [orchestrator] stopwaitsecs, but never less than the built-in
    # default that covers the daemon's own time limit (calibre: 610 s for its 600 s conversions).
    values.setdefault("stopwaitsecs", max(template.stopwaitsecs or 0, orch.stopwaitsecs))
    values.setdefault("user", template.user or orch.user)
    values.setdefault("group", template.group or orch.group)
    return replace(template, **_known(DaemonSettings, values), options=options, data_dir=data_dir,
                   state_dir=state_dir, shared={"ftp": ftp})


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_process_keys(name: str, values: dict[str, Any], source: str) -> None:
    """`environment` entries are KEY=value; `python_path` and `directory` are absolute paths."""
    where = f"{source}: [daemons] [[{name}]]"
    for entry in values["environment"]:
        key, sep, value = entry.partition("=")
        if not sep or not _ENV_NAME.fullmatch(key) or '"' in value:
            raise ConfigError(f"{where} environment = {entry!r}: expected KEY=value (KEY of letters, digits and _; "
                              f"no \" in the value; quote a value that holds a comma)")
    for key, paths in (("python_path", values["python_path"]), ("directory", [values.get("directory") or "/"])):
        for path in paths:
            if not Path(path).is_absolute():
                raise ConfigError(f"{where} {key} = {path!r}: expected an absolute directory")


def _where(sections: list[str]) -> str:
    return " ".join(f"{'[' * (i + 1)}{s}{']' * (i + 1)}" for i, s in enumerate(sections))


def _describe_errors(obj: ConfigObj, result: Any, source: str) -> list[str]:
    problems: list[str] = []
    if result is True:
        return problems
    for sections, key, error in flatten_errors(obj, result):
        where = _where(sections)
        if key is None:
            problems.append(f"{source}: {where}: missing section")
            continue
        section = obj
        spec = obj.configspec
        for name in sections:
            section = section[name]
            spec = spec.get(name) or spec.get("__many__") or {}
        check = spec.get(key) or spec.get("__many__") or ""
        value = section.get(key, "<missing>")
        reason = describe_error(error)
        if isinstance(value, list | tuple) and not is_list_check(check):
            reason = "a list (the value has a comma; put it in quotes to keep the comma)"
        problems.append(f"{source}: {where} {key} = {value!r}: {reason}; expected {describe_check(check)}")
    return problems


def _describe_extras(obj: ConfigObj, source: str) -> list[str]:
    problems = []
    for sections, name in get_extra_values(obj):
        section, spec = obj, obj.configspec
        for part in sections:
            section = section[part]
            spec = spec.get(part) or spec.get("__many__") or {}
        what = "section" if isinstance(section.get(name), dict) else "key"
        known = sorted(k for k in spec if k != "__many__")
        where = f"{_where(list(sections))}: " if sections else ""
        problems.append(f"{source}: {where}unknown {what} {name!r}{did_you_mean(name, known)}; "
                        f"expected one of: {', '.join(known)}")
    return problems
