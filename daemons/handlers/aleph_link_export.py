"""aleph_link_export: Aleph file exchange. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

LinkUpdateRequest = namedtuple("LinkUpdateRequest", "uuid doc_number document_urls kramerius_url urn_nbn session_id")
LinkDescription = namedtuple("LinkDescription", "url format")
StatusRequest = namedtuple("StatusRequest", "")
LinkUpdateResponse = namedtuple("LinkUpdateResponse", "status session_id reason")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the Aleph file exchange back end is not available in this build")
