"""The default of every config key as the code defines it, for checking what the packaged INI shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from daemons.rpc.loader import options_spec, validate_options
from orchestrator.config import Config

LINE = re.compile(r"^(?P<indent>\s*)(?:#\s*(?P<example>e\.g\.\s+)?)?(?P<key>[a-z_0-9]+) = (?P<value>.*)$")
SECTION = re.compile(r"^\s*(?P<open>\[+)(?P<name>[a-z_0-9]+)\]+")


def default_of(config: Config, path: list[str], key: str) -> Any:
    """The value a config that sets nothing has for `key` in section `path` (KeyError: no such key)."""
    if path == ["amqp"]:
        return config.management_url if key == "management_url" else getattr(config.amqp, key)
    if path == ["orchestrator"]:
        return getattr(config.orchestrator, key)
    if path == ["ftp"]:
        return config.ftp[key]
    settings = config.daemon(path[1])
    if len(path) == 3 or (path[1] == "ftp_monitor" and key in ("log_file", "log_format")):
        return validate_options(settings.name, {}, options_spec(settings))[key]
    return getattr(settings, key)


def same(value: Any, text: str) -> bool:
    """Whether the INI text spells the value (booleans, numbers, lists as configobj reads them)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return text.strip().lower() == str(value).lower()
    if isinstance(value, int | float):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    if isinstance(value, list | tuple):
        return [item.strip() for item in text.split(",") if item.strip()] == [str(v) for v in value]
    return text.strip() == str(value)


def shown_values(ini: Path) -> list[tuple[int, list[str], str, str, bool]]:
    """(line number, section path, key, value, is an example) for every `key = value` line."""
    path: list[str] = []
    found = []
    for number, line in enumerate(ini.read_text().splitlines(), start=1):
        header = SECTION.match(line.split("#", 1)[-1] if line.lstrip().startswith("#") else line)
        if header and ("[[[" in line or not line.lstrip().startswith("#")):
            depth = len(header["open"])
            path = path[: depth - 1] + [header["name"]]
            continue
        match = LINE.match(line)
        if match and path:
            found.append((number, list(path), match["key"], match["value"].strip(), bool(match["example"])))
    return found
