"""harvester: publisher feeds. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

HarvestRequest = namedtuple("HarvestRequest", "")
Publications = namedtuple("Publications", "publications")
Publication = namedtuple("Publication", "title authors price publisher optionals")
Author = namedtuple("Author", "name URL")
Optionals = namedtuple("Optionals", "sub_title format pub_date pub_place ISBN description pages EAN language edition URL binding is_ebook")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the publisher feeds back end is not available in this build")
