"""storage: SQLite + file tree. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

SaveRequest = namedtuple("SaveRequest", "record")
SearchRequest = namedtuple("SearchRequest", "query light_request", defaults=(False,))
SearchResult = namedtuple("SearchResult", "records")
Publication = namedtuple("Publication", "title author pub_year isbn urnnbn uuid aleph_id producent_id is_public filename is_periodical path b64_data url file_pointer")
Archive = namedtuple("Archive", "isbn uuid aleph_id b64_data dir_pointer")
Tree = namedtuple("Tree", "name sub_trees sub_publications aleph_id issn is_public path_array")
TreeInfo = namedtuple("TreeInfo", "path url_by_path url_by_issn")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the SQLite + file tree back end is not available in this build")
