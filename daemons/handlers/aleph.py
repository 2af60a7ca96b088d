"""Aleph catalogue: searches, counts, ISBN validation and exports (Aleph X-Services over HTTP)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from daemons.isbn import is_valid_isbn

# -- queries ----------------------------------------------------------------------------------
GenericQuery = namedtuple("GenericQuery", "base phrase considerSimilar field")
DocumentQuery = namedtuple("DocumentQuery", "doc_id library", defaults=("CZE01",))
ISBNQuery = namedtuple("ISBNQuery", "ISBN base", defaults=("nkc",))
AuthorQuery = namedtuple("AuthorQuery", "author base", defaults=("nkc",))
PublisherQuery = namedtuple("PublisherQuery", "publisher base", defaults=("nkc",))
TitleQuery = namedtuple("TitleQuery", "title base", defaults=("nkc",))
ICZQuery = namedtuple("ICZQuery", "icz base", defaults=("nkc",))

# -- requests and results -----------------------------------------------------------------------
SearchRequest = namedtuple("SearchRequest", "query")
SearchResult = namedtuple("SearchResult", "records")
CountRequest = namedtuple("CountRequest", "query")
CountResult = namedtuple("CountResult", "num_of_records")
ISBNValidationRequest = namedtuple("ISBNValidationRequest", "ISBN")
ISBNValidationResult = namedtuple("ISBNValidationResult", "is_valid")
ExportRequest = namedtuple("ExportRequest", "epublication")
ExportResult = namedtuple("ExportResult", "ISBN")
AlephRecord = namedtuple("AlephRecord", "base library docNumber xml parsed_info semantic_info")
EPublication = namedtuple(
    "EPublication",
    "ISBN invalid_ISBN id_number nazev podnazev vazba cena castDil nazevCasti nakladatelVydavatel "
    "datumVydani poradiVydani zpracovatelZaznamu format url mistoVydani ISBNSouboruPublikaci autori "
    "originaly internal_url anotace",
)
Author = namedtuple("Author", "firstName lastName title")


class ExportRejectedException(Exception):
    """Aleph refused the export (its `aleph-info` header started with `Error`)."""


class BackendNotConfigured(RuntimeError):
    """The daemon's options lack what this request needs."""


def react(message: Any, send_back: Any) -> Any:
    if isinstance(message, ISBNValidationRequest):
        return ISBNValidationResult(is_valid_isbn(message.ISBN))
    raise BackendNotConfigured(
        f"{type(message).__name__}: the Aleph X-Services back end is not available in this build"
    )
