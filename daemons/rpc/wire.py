"""The old edeposit JSON wire format: namedtuples travel as objects tagged with `__nt_name`.

Decoding only ever builds classes from a registry fixed when the daemon starts; nothing on the wire
names code to import or run.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

TAG = "__nt_name"


class UnknownStructureError(ValueError):
    """A message names a structure this daemon does not know."""


class StructureRegistry:
    """The namedtuple classes one daemon accepts, by class name."""

    def __init__(self, classes: Iterable[type] = ()) -> None:
        self._classes: dict[str, type] = {}
        self._field_sets: dict[str, frozenset[str]] = {}
        self._decoders: dict[bool, json.JSONDecoder] = {}  # made once: json.loads would make one per message
        for cls in classes:
            self.add(cls)

    @classmethod
    def from_modules(cls, modules: Iterable[ModuleType | str]) -> StructureRegistry:
        """A module's structures are its `STRUCTURES`; a module without them offers every namedtuple class
        in its namespace (how a quick handler of one's own works)."""
        registry = cls()
        for module in modules:
            if isinstance(module, str):
                module = importlib.import_module(module)
            declared = getattr(module, "STRUCTURES", None)
            for value in declared if declared is not None else vars(module).values():
                if declared is not None or is_structure_class(value):
                    registry.add(value)
        return registry

    def add(self, cls: type) -> None:
        if not is_structure_class(cls):
            raise TypeError(f"{cls!r} is not a namedtuple class")
        self._classes[cls.__name__] = cls
        self._field_sets[cls.__name__] = frozenset(cls._fields)  # type: ignore[attr-defined]

    def decoder(self, strict: bool) -> json.JSONDecoder:
        """A JSON decoder that builds this registry's structures (see `deserialize`)."""
        decoder = self._decoders.get(strict)
        if decoder is None:
            decoder = self._decoders[strict] = json.JSONDecoder(object_hook=_structure_hook(self, strict))
        return decoder

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __len__(self) -> int:
        return len(self._classes)

    def names(self) -> list[str]:
        return sorted(self._classes)

    def build(self, name: str, fields: Mapping[str, Any]) -> Any:
        try:
            cls: Any = self._classes[name]
        except KeyError:
            raise UnknownStructureError(
                f"unknown structure {name!r}; this daemon accepts: {', '.join(self.names()) or 'none'}"
            ) from None
        if fields.keys() == self._field_sets[name]:  # every field given, none unknown: the usual case
            return cls(**fields)
        unknown = set(fields) - set(cls._fields)
        if unknown:
            raise ValueError(
                f"{name}: unknown field(s) {', '.join(sorted(unknown))}; fields are {', '.join(cls._fields)}"
            )
        missing = [f for f in cls._fields if f not in fields and f not in cls._field_defaults]
        if missing:
            raise ValueError(f"{name}: missing field(s) {', '.join(missing)}")
        return cls(**fields)


def is_structure_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "_fields")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_plain(value: Any) -> Any:
    """Namedtuples become tagged dicts, other tuples lists; the rest must already be JSON-friendly."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        # Scalars are most fields of most structures: skip the call for them.
        plain = {name: item if type(item) in _SCALARS else to_plain(item)
                 for name, item in zip(value._fields, value, strict=True)}
        plain[TAG] = type(value).__name__
        return plain
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v) for v in value]
    return value


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps would make one per call for these options


def serialize(value: Any) -> bytes:
    """JSON bytes of a handler's value, in the old format."""
    return _ENCODER.encode(to_plain(value)).encode("utf-8")


def deserialize(body: bytes | str, registry: StructureRegistry, strict: bool = True) -> Any:
    """Build the message; json.JSONDecodeError for bad JSON, UnknownStructureError for foreign names.

    With `strict=False` (for clients) an unknown structure stays a dict that keeps its `__nt_name`.
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if body.startswith("\ufeff"):
        return json.loads(body)  # raises, naming the byte order mark
    return registry.decoder(strict).decode(body)


def _structure_hook(registry: StructureRegistry, strict: bool) -> Any:
    def hook(obj: dict[str, Any]) -> Any:
        if TAG not in obj:
            return obj
        name = obj[TAG]
        if not isinstance(name, str):
            raise UnknownStructureError(f"{TAG} must be a string, got {name!r}")
        if not strict and name not in registry:
            return obj
        return registry.build(name, {k: v for k, v in obj.items() if k != TAG})

    return hook
