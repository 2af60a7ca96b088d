"""Checks and normalises the fields of incoming records, so the catalogue holds one type per field.

Text fields accept strings and numbers (an old client may send `pub_year` as 2014; it is kept as
"2014"); flags accept true, false or null; `b64_data` must be base64. Anything else is refused with
an error naming the structure, the field, the value and what is expected.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

PUBLICATION_TEXT = ("title", "author", "pub_year", "isbn", "urnnbn", "uuid", "aleph_id", "producent_id", "filename",
                    "path")
PUBLICATION_FLAGS = ("is_public", "is_periodical")
ARCHIVE_TEXT = ("isbn", "uuid", "aleph_id")
TREE_TEXT = ("name", "aleph_id", "issn")
TREE_FLAGS = ("is_public",)
WHITESPACE = re.compile(rb"\s+")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def text_field(record: Any, field: str) -> str | None:
    value = getattr(record, field)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{type(record).__name__}.{field} = {_shown(value)}: expected a string or null")


def flag_field(record: Any, field: str) -> bool | None:
    value = getattr(record, field)
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{type(record).__name__}.{field} = {_shown(value)}: expected true, false or null")


def fields_of(record: Any, texts: tuple[str, ...], flags: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record's catalogue columns, checked; flags become 0/1 so SQLite compares them exactly."""
    values: dict[str, Any] = {field: text_field(record, field) for field in texts}
    for field in flags:
        flag = flag_field(record, field)
        values[field] = None if flag is None else int(flag)
    return values


def decoded_data(record: Any) -> bytes | None:
    """The bytes of `b64_data` (whitespace such as line breaks allowed), None when it is null."""
    value = record.b64_data
    if value is None:
        return None
    if not isinstance(value, str | bytes):
        raise ValueError(f"{type(record).__name__}.b64_data = {_shown(value)}: expected a base64 string or null")
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    try:
        return base64.b64decode(WHITESPACE.sub(b"", raw), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{type(record).__name__}.b64_data is not valid base64 ({exc}); "
                         f"encode the file with base64 (RFC 4648)") from None


def checked_path_array(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(part, str) and part for part in value):
        raise ValueError(f"Tree.path_array = {_shown(value)}: expected a list of non-empty names, e.g. "
                         f"[\"Periodical\", \"2015\"]")
    if any("/" in part for part in value):
        raise ValueError(f"Tree.path_array = {_shown(value)}: names in a path cannot contain '/'")
    return list(value)


def tree_path_array(tree: Any, parent: list[str] | None = None) -> list[str]:
    """The names from the root down to this tree; `path_array` when given, else the parent's plus `name`."""
    name = text_field(tree, "name")
    if not name:
        raise ValueError(f"Tree.name = {_shown(tree.name)}: every tree needs a name")
    if tree.path_array is None or tree.path_array == []:
        return [*(parent or []), name]
    return checked_path_array(tree.path_array)


def tree_path(path_array: list[str]) -> str:
    return "/" + "/".join(path_array)


def list_field(record: Any, field: str) -> list[Any]:
    value = getattr(record, field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{type(record).__name__}.{field} = {_shown(value)}: expected a list or null")
    return value
