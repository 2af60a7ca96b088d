"""What `reload` is about to change, worked out before anything is touched, so a bad edit is refused
while the running daemons keep running."""

from __future__ import annotations

import configparser
from collections.abc import Iterable

from daemons.rpc.loader import HandlerError, options_spec, validate_options
from daemons.rpc.settings import DaemonSettings
from orchestrator.control import MASTER_PROGRAMS

PROGRAM = "program:"


def program_sections(conf_text: str) -> dict[str, dict[str, str]]:
    """The `[program:NAME]` sections of a supervisord config, by daemon name."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(conf_text)
    return {
        section.removeprefix(PROGRAM): dict(parser[section])
        for section in parser.sections() if section.startswith(PROGRAM)
    }


def added_or_changed(old_conf: str, new_conf: str) -> list[str]:
    """Daemons whose program section is new or differs: the ones reload will (re)start (not the master's own)."""
    old, new = program_sections(old_conf), program_sections(new_conf)
    return [name for name, section in new.items() if old.get(name) != section and name not in MASTER_PROGRAMS]


def handler_problems(source: str, daemons: Iterable[DaemonSettings]) -> list[str]:
    """Import each daemon's handler and check its options, as the worker will; one line per problem."""
    problems = []
    for settings in daemons:
        try:
            validate_options(settings.name, settings.options, options_spec(settings))
        except HandlerError as exc:
            problems.append(f"{source}: {exc}")
        except Exception as exc:  # whatever the handler's import raises
            problems.append(
                f"{source}: [daemons] [[{settings.name}]] handler = {settings.handler!r}: cannot import: "
                f"{type(exc).__name__}: {exc}"
            )
    return problems
