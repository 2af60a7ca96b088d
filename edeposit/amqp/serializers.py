"""The old `edeposit.amqp.serializers`: namedtuples to and from the JSON wire format (daemons.rpc.wire).

A namedtuple travels as a JSON object with its class name under `__nt_name`. `deserialize` builds only
the namedtuple classes found among the values of `glob` (what the old code passed as `globals()`):
an unknown `__nt_name` raises `UnknownStructureError` instead of looking anything up elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemons.rpc import wire
from daemons.rpc.wire import StructureRegistry, UnknownStructureError, is_structure_class

__all__ = ["UnknownStructureError", "deserialize", "iiOfAny", "registry_of", "serialize"]


def serialize(data: Any) -> str:
    """JSON text of `data`; namedtuples (also nested in lists and dicts) get their `__nt_name`."""
    return wire.serialize(data).decode("utf-8")


def registry_of(glob: Mapping[str, Any]) -> StructureRegistry:
    """The namedtuple classes among the values of `glob` (e.g. a module's `globals()`)."""
    return StructureRegistry(value for value in glob.values() if is_structure_class(value))


def deserialize(json_str: str | bytes, glob: Mapping[str, Any]) -> Any:
    """Back from JSON, building the namedtuples `glob` holds (pass `globals()` as the old docs said)."""
    return wire.deserialize(json_str, registry_of(glob))


def iiOfAny(instance: Any, classes: Any) -> bool:
    """Whether `instance`'s class has the name of any of `classes` (one class or a list/tuple of them).

    Note: compares class names, not classes, as it always did: a structure decoded in one module is an
    instance of an equally named class defined in another.
    """
    if type(classes) not in (list, tuple):
        classes = [classes]
    return any(type(instance).__name__ == cls.__name__ for cls in classes)
