"""Imports a daemon's handler module and holds what the worker needs of it (daemons/rpc/handler.py)."""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

from configobj import ConfigObj, flatten_errors, get_extra_values
from validate import Validator

from daemons.rpc.handler import HandlerContext, Hooks, Publish, React
from daemons.rpc.settings import AMQPSettings, DaemonSettings
from daemons.rpc.spec_text import describe_check, describe_error, did_you_mean, is_list_check
from daemons.rpc.wire import StructureRegistry

# A daemon that is not an RPC worker (ftp_monitor): its entry point runs the daemon until it is stopped.
Service = Callable[[DaemonSettings, AMQPSettings], "int | None"]


class HandlerError(Exception):
    """The handler cannot be loaded or configured; the text says which daemon and why."""


@dataclass(frozen=True)
class LoadedHandler:
    module: ModuleType
    react: React
    registry: StructureRegistry
    hooks: Hooks
    options_spec: str | None
    inline: frozenset[str] = frozenset()  # structures served on the connection's thread (handler.py)


def split_reference(reference: str) -> tuple[str, str]:
    module, sep, attribute = reference.partition(":")
    if not sep or not module or not attribute:
        raise HandlerError(f"handler {reference!r}: expected 'module:callable', e.g. daemons.aleph.handler:react")
    return module, attribute


def use_python_path(settings: DaemonSettings) -> None:
    """For the worker's whole life: the daemon's `python_path` is searched before everything else."""
    sys.path[:0] = [path for path in settings.python_path if path not in sys.path]


@contextlib.contextmanager
def _handler_path(settings: DaemonSettings) -> Iterator[None]:
    """The daemon's `python_path` searched first while its handler is imported, as in its worker.

    Note: in a process that checks several daemons (check-config, reload), the path is taken away after
    the import and so are the modules imported from it, so one daemon's path never helps another's.
    """
    added = [path for path in settings.python_path if path not in sys.path]
    if not added:
        yield
        return
    before = set(sys.modules)
    sys.path[:0] = added
    try:
        yield
    finally:
        for path in added:
            sys.path.remove(path)
        prefixes = tuple(path.rstrip("/") + "/" for path in added)
        for name in set(sys.modules) - before:
            if (getattr(sys.modules[name], "__file__", None) or "").startswith(prefixes):
                del sys.modules[name]


def _entry_point(settings: DaemonSettings) -> tuple[ModuleType, Callable[..., Any]]:
    module_name, attribute = split_reference(settings.handler)
    with _handler_path(settings):
        module = importlib.import_module(module_name)
    entry = getattr(module, attribute, None)
    if not callable(entry):
        raise HandlerError(f"daemon {settings.name}: {module_name} has no callable {attribute!r}")
    return module, entry


def import_handler(settings: DaemonSettings) -> LoadedHandler:
    """Import without configuring: enough to check a config and to build the structure registry."""
    with _handler_path(settings):
        module, react = _entry_point(settings)
        registry = StructureRegistry.from_modules([module, *settings.structures])
    return LoadedHandler(
        module=module,
        react=cast(React, react),
        registry=registry,
        hooks=Hooks.of(module),
        options_spec=getattr(module, "OPTIONS_SPEC", None),
        inline=_inline_names(settings, module, registry),
    )


def _inline_names(settings: DaemonSettings, module: ModuleType, registry: StructureRegistry) -> frozenset[str]:
    declared = getattr(module, "INLINE", ())
    if isinstance(declared, str) or not all(isinstance(name, str) for name in declared):
        raise HandlerError(f"daemon {settings.name}: {module.__name__}.INLINE must be a sequence of structure "
                           f"names, got {declared!r}")
    unknown = sorted(set(declared) - set(registry.names()))
    if unknown:
        raise HandlerError(f"daemon {settings.name}: {module.__name__}.INLINE names {', '.join(unknown)}, which "
                           f"the daemon does not decode; its structures are: {', '.join(registry.names())}")
    return frozenset(declared)


def import_service(settings: DaemonSettings) -> Service:
    """The entry point of a daemon that is not an RPC worker."""
    _, run = _entry_point(settings)
    return cast(Service, run)


def options_spec(settings: DaemonSettings) -> str | None:
    """The OPTIONS_SPEC of the daemon's handler module (importing it)."""
    module, _ = _entry_point(settings)
    return getattr(module, "OPTIONS_SPEC", None)


def _coerced(options: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """One value where the spec wants a list becomes a list (`10.0.0.0/8` as well as `10.0.0.0/8,`)."""
    result = dict(options)
    for key, value in options.items():
        check = spec.get(key)
        if isinstance(check, str) and isinstance(value, str) and is_list_check(check):
            result[key] = [part.strip() for part in value.split(",") if part.strip()]
    return result


def option_problems(name: str, options: Mapping[str, Any], spec: str | None) -> tuple[dict[str, Any], list[str]]:
    """The validated options (defaults filled in) and every problem, each a sentence naming the option."""
    if spec is None:
        return dict(options), []
    checks = ConfigObj(spec.splitlines(), list_values=False, interpolation=False)
    obj = ConfigObj(_coerced(options, checks), configspec=spec.splitlines(), interpolation=False)
    result = obj.validate(Validator(), preserve_errors=True)
    where = f"[daemons] [[{name}]] [[[options]]]"
    problems = []
    if result is not True:
        for _, key, error in flatten_errors(obj, result):
            check = checks.get(key, "")
            value = options.get(key)
            reason = describe_error(error)
            if isinstance(value, list | tuple) and not is_list_check(check):
                reason = "a list (the value has a comma; put it in quotes to keep the comma)"
            shown = f"{key}" if error is False else f"{key} = {value!r}"
            problems.append(f"{where} {shown}: {reason}; expected {describe_check(check)}")
    for _, key in get_extra_values(obj):
        known = sorted(obj.configspec)
        problems.append(f"{where}: unknown option {key!r}{did_you_mean(key, known)}; "
                        f"expected one of: {', '.join(known)}")
    return obj.dict(), problems


def validate_options(name: str, options: Mapping[str, Any], spec: str | None) -> dict[str, Any]:
    """Check `[[[options]]]` against an OPTIONS_SPEC; without a spec, options pass unchanged."""
    validated, problems = option_problems(name, options, spec)
    if problems:
        raise HandlerError("\n".join(problems))
    return validated


def load_handler(settings: DaemonSettings, log: logging.Logger | None = None,
                 publish: Publish | None = None) -> LoadedHandler:
    """Import, validate options and call the `configure(context)` hook."""
    loaded = import_handler(settings)
    options = validate_options(settings.name, settings.options, loaded.options_spec)
    loaded.hooks.configure(
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
