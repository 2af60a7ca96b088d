"""The old `edeposit.amqp.storage`: the structures of the storage daemon, under their old names."""

from __future__ import annotations

from daemons.storage.handler import (
    Archive,
    Publication,
    SaveRequest,
    SearchRequest,
    SearchResult,
    Tree,
    TreeInfo,
)

__all__ = [
    "Archive", "Publication", "SaveRequest", "SearchRequest", "SearchResult", "Tree", "TreeInfo",
]
