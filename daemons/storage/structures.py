"""The storage daemon's message structures (names and fields as the old edeposit clients send them)."""

from __future__ import annotations

from collections import namedtuple

SaveRequest = namedtuple("SaveRequest", "record")
SearchRequest = namedtuple("SearchRequest", "query light_request", defaults=(False,))
SearchResult = namedtuple("SearchResult", "records")
Publication = namedtuple(
    "Publication",
    "title author pub_year isbn urnnbn uuid aleph_id producent_id is_public filename is_periodical path b64_data url "
    "file_pointer",
)
Archive = namedtuple("Archive", "isbn uuid aleph_id b64_data dir_pointer")
Tree = namedtuple("Tree", "name sub_trees sub_publications aleph_id issn is_public path_array")
TreeInfo = namedtuple("TreeInfo", "path url_by_path url_by_issn")
