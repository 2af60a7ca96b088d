"""Names from ltp messages made safe: a package id and a file name can never point outside the package."""

from __future__ import annotations

import re
import unicodedata

_PACKAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
MAX_NAME_BYTES = 200


class BadNameError(ValueError):
    """A book id or file name that cannot be used as given."""


def package_id(book_uuid: object) -> str:
    """The book's uuid as a directory name; BadNameError unless it is letters, digits, '.', '_' and '-'."""
    if not isinstance(book_uuid, str) or not _PACKAGE_ID.match(book_uuid) or ".." in book_uuid:
        raise BadNameError(
            f"book_uuid {book_uuid!r} cannot name a package: use letters, digits, '.', '_' and '-' only "
            f"(a UUID such as 3b5f1c0e-9a8d-4f6b-8e2a-7c1d0f9e8b7a), at most 128 characters"
        )
    return book_uuid


def data_file_name(filename: object) -> str:
    """The last path component of `filename`, without control or path characters, never '.' or '..'."""
    if not isinstance(filename, str):
        raise BadNameError(f"filename must be a string, got {type(filename).__name__} {filename!r}")
    base = unicodedata.normalize("NFC", filename.replace("\\", "/")).rsplit("/", 1)[-1]
    base = _UNSAFE_CHARS.sub("_", base).strip(" .")
    while len(base.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[:-1] + dot + suffix) if dot and stem else base[:-1]
    if not base:
        raise BadNameError(f"filename {filename!r} has no usable name: send the book's file name, e.g. 'book.pdf'")
    return base
