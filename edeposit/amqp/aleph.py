"""The old `edeposit.amqp.aleph`: the structures of the aleph daemon, under their old names."""

from __future__ import annotations

from daemons.aleph.handler import (
    AlephRecord,
    Author,
    AuthorQuery,
    CountRequest,
    CountResult,
    DocumentQuery,
    EPublication,
    ExportRejectedException,
    ExportRequest,
    ExportResult,
    GenericQuery,
    ICZQuery,
    ISBNQuery,
    ISBNValidationRequest,
    ISBNValidationResult,
    PublisherQuery,
    SearchRequest,
    SearchResult,
    SemanticInfo,
    TitleQuery,
)

__all__ = [
    "AlephRecord", "Author", "AuthorQuery", "CountRequest", "CountResult", "DocumentQuery", "EPublication",
    "ExportRejectedException", "ExportRequest", "ExportResult", "GenericQuery", "ICZQuery", "ISBNQuery",
    "ISBNValidationRequest", "ISBNValidationResult", "PublisherQuery", "SearchRequest", "SearchResult",
    "SemanticInfo", "TitleQuery",
]
