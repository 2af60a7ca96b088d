"""Reads the old edeposit.amqp JSON settings (`RABBITMQ_*` keys) for sites that still have them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# The prefixes of the last old settings module's constants (RABBITMQ_<PREFIX>_<SUFFIX>) and the daemon
# each names; the old tool's host names are these prefixes in lower case (`downer`, `mx2mods`, `ftp`).
OLD_DAEMON_PREFIXES = {
    "ALEPH": "aleph",
    "ALEPH_LINK_EXPORT": "aleph_link_export",
    "ANTIVIRUS": "antivirus",
    "CALIBRE": "calibre",
    "DOWNER": "downloader",
    "FTP": "ftp_manager",
    "HARVESTER": "harvester",
    "LTP": "ltp",
    "MX2MODS": "marcxml2mods",
    "PDFGEN": "pdfgen",
    "STORAGE": "storage",
}
OLD_SUFFIXES = {
    "VIRTUALHOST": "vhost",
    "INPUT_QUEUE": "input_queue",
    "OUTPUT_QUEUE": "output_queue",
    "INPUT_KEY": "input_key",
    "OUTPUT_KEY": "output_key",
    "EXCHANGE": "exchange",
}
OLD_HOST_NAMES = {prefix.lower(): daemon for prefix, daemon in OLD_DAEMON_PREFIXES.items()}

# Old per-daemon key prefixes read from JSON settings (with aliases of early releases); the longest match
# wins, so ALEPH_LINK_EXPORT beats ALEPH.
_PREFIXES = {
    "ALEPH_LINK_EXPORT": ("aleph_link_export",),
    "ALEPH": ("aleph",),
    "CALIBRE": ("calibre",),
    "FTP": ("ftp_manager", "ftp_monitor"),
    "ANTIVIRUS": ("antivirus",),
    "HARVESTER": ("harvester",),
    "LTP": ("ltp",),
    "PDFGEN": ("pdfgen",),
    "DOWNER": ("downloader",),
    "DOWNLOADER": ("downloader",),
    "STORAGE": ("storage",),
    "MX2MODS": ("marcxml2mods",),
    "MARCXML2MODS": ("marcxml2mods",),
}
_SUFFIXES = {
    "VIRTUALHOST": "vhost",
    "EXCHANGE": "exchange",
    "INPUT_QUEUE": "input_queue",
    "DAEMON_QUEUE": "input_queue",
    "OUTPUT_QUEUE": "output_queue",
    "PLONE_QUEUE": "output_queue",
    "INPUT_KEY": "input_key",
    "DAEMON_KEY": "input_key",
    "OUTPUT_KEY": "output_key",
    "PLONE_KEY": "output_key",
}
_AMQP_KEYS = {
    "RABBITMQ_HOST": "host",
    "RABBITMQ_PORT": "port",
    "RABBITMQ_USER_NAME": "user",
    "RABBITMQ_USER_PASSWORD": "password",
}
_RPC_ONLY = {"input_queue", "input_key"}


def legacy_paths() -> list[Path]:
    """The old lookup order: $HOME first, then /etc; the first found wins."""
    paths = []
    if os.environ.get("HOME"):
        paths.append(Path(os.environ["HOME"]) / "edeposit" / "amqp.json")
    paths.append(Path("/etc/edeposit/amqp.json"))
    return paths


def find_legacy_settings() -> Path | None:
    return next((p for p in legacy_paths() if p.is_file()), None)


def translate(settings: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Turn old keys into an INI-shaped dict; also return keys that mean nothing to us."""
    ini: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in settings.items():
        if key in _AMQP_KEYS:
            ini.setdefault("amqp", {})[_AMQP_KEYS[key]] = str(value)
            continue
        target = _daemon_key(key)
        if target is None:
            ignored.append(key)
            continue
        daemons, option = target
        for daemon in daemons:
            if daemon == "ftp_monitor" and option in _RPC_ONLY:
                continue
            ini.setdefault("daemons", {}).setdefault(daemon, {})[option] = str(value)
    return ini, ignored


def _daemon_key(key: str) -> tuple[tuple[str, ...], str] | None:
    if not key.startswith("RABBITMQ_"):
        return None
    rest = key[len("RABBITMQ_"):]
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if rest.startswith(prefix + "_"):
            suffix = rest[len(prefix) + 1:]
            if suffix in _SUFFIXES:
                return _PREFIXES[prefix], _SUFFIXES[suffix]
            return None
    return None


def ini_equivalent(ini: dict[str, Any]) -> str:
    """The INI lines that say the same, shown in the warning so the operator can migrate."""
    lines: list[str] = []
    if "amqp" in ini:
        lines.append("[amqp]")
        lines += [f"{k} = {v}" for k, v in ini["amqp"].items()]
    if "daemons" in ini:
        lines.append("[daemons]")
        for name, keys in ini["daemons"].items():
            lines.append(f"  [[{name}]]")
            lines += [f"  {k} = {v}" for k, v in keys.items()]
    return "\n".join(lines)


def read_legacy(path: Path) -> dict[str, Any]:
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read old JSON settings: {exc}") from exc
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: old JSON settings must be an object, got {type(settings).__name__}")
    return settings


def load_legacy(path: Path) -> tuple[dict[str, Any], str]:
    """Read one old JSON file; return the INI-shaped values and the warning to log."""
    settings = read_legacy(path)
    ini, ignored = translate(settings)
    warning = (
        f"using old JSON settings from {path}; put this into /etc/edeposit/amqpd.ini instead:\n"
        + ini_equivalent(ini)
    )
    if ignored:
        warning += "\n(ignored keys with no equivalent: " + ", ".join(sorted(ignored)) + ")"
    return ini, warning


def shadowed_warning(path: Path, ini_source: str, current: dict[str, Any]) -> str:
    """The warning when an INI file and old JSON settings both exist: the INI wins, every JSON key is ignored.

    `current` is INI-shaped (`{"amqp": {...}, "daemons": {name: {...}}}`) with the values in force, so the
    keys whose JSON value differs can be named (values are not shown: one may be the password).
    """
    head = f"old JSON settings {path} are ignored: {ini_source} is used instead (an INI file always wins)"
    try:
        settings = read_legacy(path)
    except ValueError as exc:
        return f"{head}; {exc}"
    if not settings:
        return f"{head}; it sets nothing: delete it"
    differing = sorted(key for key, value in settings.items() if _differs(key, value, current))
    lines = [f"{head}; ignored keys: {', '.join(sorted(settings))}"]
    if differing:
        lines.append(f"{ini_source} has other values for {', '.join(differing)}: move what you still need "
                     f"into it")
    lines.append(f"delete {path} (or rename it) once nothing reads it")
    return "\n".join(lines)


def _differs(key: str, value: Any, current: dict[str, Any]) -> bool:
    if key in _AMQP_KEYS:
        return str(current.get("amqp", {}).get(_AMQP_KEYS[key])) != str(value)
    target = _daemon_key(key)
    if target is None:
        return False
    daemons, option = target
    return any(str(current.get("daemons", {}).get(name, {}).get(option)) != str(value) for name in daemons
               if not (name == "ftp_monitor" and option in _RPC_ONLY))
