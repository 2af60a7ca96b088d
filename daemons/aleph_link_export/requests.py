"""Checks a LinkUpdateRequest and turns it into plain data that can be stored and written for Aleph."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# Characters XML 1.0 cannot carry; a value containing one could not be written to Aleph's file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class LinkRequestError(ValueError):
    """A LinkUpdateRequest field is missing or of the wrong kind; the text names the field and the fix."""


@dataclass(frozen=True)
class DocumentLink:
    url: str
    format: str | None = None


@dataclass(frozen=True)
class PendingLink:
    """One request waiting for Aleph's answer, as it is stored and written to the outgoing document."""

    session_id: str
    uuid: str
    doc_number: str
    document_urls: tuple[DocumentLink, ...]
    kramerius_url: str | None = None
    urn_nbn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingLink:
        links = tuple(DocumentLink(**link) for link in data["document_urls"])
        return cls(**{**data, "document_urls": links})


def _text(field: str, value: Any) -> str:
    text = _optional_text(field, value)
    if text is None:
        raise LinkRequestError(f"LinkUpdateRequest.{field} is {value!r}: it must be a non-empty string")
    return text


def _optional_text(field: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LinkRequestError(f"LinkUpdateRequest.{field} = {value!r}: expected a string, not {type(value).__name__}")
    text = str(value).strip()
    if _NOT_XML.search(text):
        raise LinkRequestError(f"LinkUpdateRequest.{field} = {value!r}: contains control characters; remove them")
    return text


def _link(index: int, item: Any) -> DocumentLink:
    field = f"document_urls[{index}]"
    if isinstance(item, str):
        return DocumentLink(_text(field, item))
    url = getattr(item, "url", None) if not isinstance(item, dict) else item.get("url")
    fmt = getattr(item, "format", None) if not isinstance(item, dict) else item.get("format")
    if url is None:
        raise LinkRequestError(f"LinkUpdateRequest.{field} = {item!r}: expected a URL string or LinkDescription(url, "
                               f"format)")
    return DocumentLink(_text(f"{field}.url", url), _optional_text(f"{field}.format", fmt))


def pending_from_message(message: Any) -> PendingLink:
    """The request as PendingLink; LinkRequestError for anything Aleph could not use."""
    urls = message.document_urls
    if urls is None:
        urls = []
    elif isinstance(urls, str) or not isinstance(urls, list | tuple):
        urls = [urls]  # old clients could send a single URL
    return PendingLink(
        session_id=_text("session_id", message.session_id),
        uuid=_text("uuid", message.uuid),
        doc_number=_text("doc_number", message.doc_number),
        document_urls=tuple(_link(index, item) for index, item in enumerate(urls)),
        kramerius_url=_optional_text("kramerius_url", message.kramerius_url),
        urn_nbn=_optional_text("urn_nbn", message.urn_nbn),
    )
