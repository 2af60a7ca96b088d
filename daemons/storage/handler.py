"""storage: keeps publications, archives and periodical trees; metadata in SQLite, files under data_dir.

Requests: `SaveRequest(record)` with a Publication or Archive -> the stored record without its data (with
`file_pointer` / `dir_pointer` and `url` set), with a Tree -> `TreeInfo`; `SearchRequest(query,
light_request)` -> `SearchResult(records)`: every non-null field of `query` must match, and a light
request leaves the file content out. The layout is described in daemons.storage.service.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemons.rpc.handler import HandlerContext
from daemons.rpc.loader import validate_options
from daemons.storage.service import Storage, StorageOptions
from daemons.storage.structures import (
    Archive,
    Publication,
    SaveRequest,
    SearchRequest,
    SearchResult,
    Tree,
    TreeInfo,
)

__all__ = ["Archive", "Publication", "SaveRequest", "SearchRequest", "SearchResult", "Tree", "TreeInfo",
           "OPTIONS_SPEC", "STRUCTURES", "configure", "health", "react", "shutdown"]

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    Archive, Publication, SaveRequest, SearchRequest, SearchResult, Tree, TreeInfo
)

OPTIONS_SPEC = """
data_dir = string(default=None)
public_url = string(default=None)
max_archive_bytes = integer(min=1, default=2147483648)
max_archive_files = integer(min=1, default=100000)
max_results = integer(min=1, default=10000)
"""


class StorageUnavailable(RuntimeError):
    """The data directory cannot be used; the text says which and how to fix it."""


_storage: Storage | None = None
_problem: str | None = "storage is not configured: the worker calls configure(context) before the first message"


def configure(context: HandlerContext) -> None:
    """Open (creating when missing) the data directory and its catalogue."""
    global _storage, _problem
    options = validate_options(context.name, context.options, OPTIONS_SPEC)
    data_dir = Path(options["data_dir"]).expanduser() if options["data_dir"] else context.data_dir
    if _storage is not None:
        _storage.close()
        _storage = None
    try:
        _storage = Storage(StorageOptions(
            data_dir=data_dir.absolute(),
            public_url=options["public_url"],
            max_archive_bytes=options["max_archive_bytes"],
            max_archive_files=options["max_archive_files"],
            max_results=options["max_results"],
        ))
        _problem = None
    except (OSError, sqlite3.Error) as exc:
        _problem = (f"storage data_dir {str(data_dir)!r} cannot be used ({type(exc).__name__}: {exc}); make it "
                    f"writable for the daemon's user or set data_dir in [daemons] [[{context.name}]] [[[options]]]")
        context.log.error("%s", _problem)


def health() -> str | None:
    return _problem


def shutdown() -> None:
    """Close the catalogue, so its WAL is checkpointed before the process exits."""
    global _storage
    if _storage is not None:
        _storage.close()
        _storage = None


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    if _storage is None:
        raise StorageUnavailable(_problem)
    if isinstance(message, SaveRequest):
        record = message.record
        if isinstance(record, Publication):
            return _storage.save_publication(record)
        if isinstance(record, Archive):
            return _storage.save_archive(record)
        if isinstance(record, Tree):
            return _storage.save_tree(record)
        raise ValueError(f"SaveRequest.record is a {type(record).__name__}; expected a Publication, Archive or Tree")
    if isinstance(message, SearchRequest):
        if not isinstance(message.light_request, bool):
            raise ValueError(f"SearchRequest.light_request = {message.light_request!r}: expected true or false")
        return SearchResult(records=_storage.search(message.query, message.light_request))
    raise TypeError(f"storage does not handle {type(message).__name__}; send SaveRequest or SearchRequest")
