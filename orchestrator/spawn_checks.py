"""What would keep a daemon's worker from starting, found before it is spawned.

check-config, reload's pre-check and start-all/run ask the same questions: does its user exist and
reach what it runs (orchestrator.privileges), and do its `python_path` and `directory` exist. The
handler import itself is checked by importing it with the same `python_path` (daemons.rpc.loader).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from daemons.rpc.settings import DaemonSettings
from orchestrator import privileges
from orchestrator.config import Config


def problems(config: Config, daemons: Iterable[DaemonSettings]) -> list[str]:
    found = []
    for settings in daemons:
        where = f"{config.source}: [daemons] [[{settings.name}]]"
        for path in settings.python_path:
            if not Path(path).is_dir():
                found.append(f"{where} python_path = {path!r}: no such directory")
        if settings.directory and not Path(settings.directory).is_dir():
            found.append(f"{where} directory = {settings.directory!r}: no such directory")
        found += privileges.problems(config, settings)
    return found
