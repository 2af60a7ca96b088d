"""Turns the aleph daemon's query structures into X-Services calls: search in batches, count, find_doc."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from daemons.aleph.xservices import PRESENT_LIMIT, PresentedRecord, XServices

# query structure name -> (X-Services search field, the structure's attribute holding the phrase)
QUERY_FIELDS = {
    "ISBNQuery": ("sbn", "ISBN"),
    "AuthorQuery": ("wau", "author"),
    "PublisherQuery": ("wpb", "publisher"),
    "TitleQuery": ("wtl", "title"),
    "ICZQuery": ("icz", "icz"),
}
_SAFE_FIELD = re.compile(r"^[A-Za-z0-9_]{1,10}$")


class BadQueryError(ValueError):
    """The query cannot be sent to Aleph as it is."""


def search_terms(query: Any) -> tuple[str, str, str, bool]:
    """(field, phrase, base, adjacent) of a search query."""
    name = type(query).__name__
    if name == "GenericQuery":
        field, phrase, base, adjacent = query.field, query.phrase, query.base, not query.considerSimilar
    elif name in QUERY_FIELDS:
        field, attribute = QUERY_FIELDS[name]
        phrase, base, adjacent = getattr(query, attribute), query.base, True
    else:
        raise BadQueryError(
            f"query {name!r} is not a search query; use one of GenericQuery, DocumentQuery, "
            f"{', '.join(QUERY_FIELDS)}"
        )
    if not isinstance(field, str) or not _SAFE_FIELD.match(field):
        raise BadQueryError(f"{name}: search field {field!r} is not an Aleph field code such as 'wtl' or 'sbn'")
    if not isinstance(phrase, str) or not phrase.strip():
        raise BadQueryError(f"{name}: the phrase to search for is empty ({phrase!r}); give a non-empty string")
    if not isinstance(base, str) or not base.strip():
        raise BadQueryError(f"{name}: base {base!r} is not an Aleph base name such as 'nkc'")
    return field, phrase.strip(), base.strip(), adjacent


def is_document_query(query: Any) -> bool:
    """DocumentQuery goes to find_doc instead of find/present."""
    return type(query).__name__ == "DocumentQuery"


def document(client: XServices, query: Any) -> PresentedRecord | None:
    """The record a DocumentQuery names, or None when Aleph does not have it."""
    doc_id = str(query.doc_id).strip()
    if not doc_id:
        raise BadQueryError("DocumentQuery: doc_id is empty; give an Aleph document number such as '000652691'")
    return client.find_doc(doc_id, query.library)


def search(client: XServices, query: Any, batch: int = PRESENT_LIMIT) -> Iterator[tuple[str, PresentedRecord]]:
    """(base, record) for every record the query finds: one find, then present in batches of `batch`."""
    if is_document_query(query):
        record = document(client, query)
        if record is not None:
            yield query.library, record
        return
    field, phrase, base, adjacent = search_terms(query)
    found = client.find(field, phrase, base, adjacent)
    for first in range(1, found.no_records + 1, batch):
        last = min(first + batch - 1, found.no_records)
        for record in client.present(found.set_number, first, last):
            yield base, record


def count(client: XServices, query: Any) -> int:
    """Hits of a query without downloading any record."""
    if is_document_query(query):
        return int(document(client, query) is not None)
    field, phrase, base, adjacent = search_terms(query)
    return client.find(field, phrase, base, adjacent).no_records
