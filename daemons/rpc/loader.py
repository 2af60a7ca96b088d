"""Imports a daemon's handler and collects the structures it may decode."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from configobj import ConfigObj, flatten_errors, get_extra_values
from validate import Validator

from daemons.rpc.context import HandlerContext
from daemons.rpc.settings import DaemonSettings
from daemons.rpc.wire import StructureRegistry

React = Callable[[Any, Callable[[Any], None]], Any]


class HandlerError(Exception):
    """The handler cannot be loaded or configured; the text says which daemon and why."""


@dataclass(frozen=True)
class LoadedHandler:
    module: ModuleType
    react: React
    registry: StructureRegistry


def split_reference(reference: str) -> tuple[str, str]:
    module, sep, attribute = reference.partition(":")
    if not sep or not module or not attribute:
        raise HandlerError(f"handler {reference!r}: expected 'module:callable', e.g. daemons.aleph.handler:react")
    return module, attribute


def import_handler(settings: DaemonSettings) -> LoadedHandler:
    """Import without configuring: enough to check a config and to build the structure registry."""
    module_name, attribute = split_reference(settings.handler)
    module = importlib.import_module(module_name)
    react = getattr(module, attribute, None)
    if not callable(react):
        raise HandlerError(f"daemon {settings.name}: {module_name} has no callable {attribute!r}")
    registry = StructureRegistry.from_modules([module, *settings.structures])
    return LoadedHandler(module=module, react=react, registry=registry)


def validate_options(settings: DaemonSettings, module: ModuleType) -> dict[str, Any]:
    """Check `[[[options]]]` against the module's OPTIONS_SPEC; no spec means options pass as text."""
    spec = getattr(module, "OPTIONS_SPEC", None)
    if spec is None:
        return dict(settings.options)
    obj = ConfigObj(dict(settings.options), configspec=spec.splitlines(), interpolation=False)
    result = obj.validate(Validator(), preserve_errors=True)
    where = f"[daemons] [[{settings.name}]] [[[options]]]"
    problems = []
    if result is not True:
        for _, key, error in flatten_errors(obj, result):
            problems.append(f"{where} {key} = {settings.options.get(key)!r}: {error}")
    for _, key in get_extra_values(obj):
        known = ", ".join(sorted(obj.configspec))
        problems.append(f"{where}: unknown option {key!r}; expected one of: {known}")
    if problems:
        raise HandlerError("\n".join(problems))
    return obj.dict()


def load_handler(settings: DaemonSettings, log: logging.Logger | None = None,
                 publish: Callable[..., None] | None = None) -> LoadedHandler:
    """Import, validate options and call the optional `configure(context)` hook."""
    loaded = import_handler(settings)
    options = validate_options(settings, loaded.module)
    configure = getattr(loaded.module, "configure", None)
    if configure is not None:
        configure(
            HandlerContext(
                name=settings.name,
                options=options,
                data_dir=settings.data_dir,
                state_dir=settings.state_dir,
                shared=settings.shared,
                log=log or logging.getLogger(f"edeposit.{settings.name}"),
                **({"publish": publish} if publish is not None else {}),
            )
        )
    return loaded
