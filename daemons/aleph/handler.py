"""Aleph catalogue: searches, counts, ISBN validation and exports (Aleph X-Services over HTTP)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from daemons.aleph.export import ExportRejectedException as ExportRejectedException  # raised to clients
from daemons.aleph.export import form_fields, post_form
from daemons.aleph.records import epublication_fields, semantic_fields
from daemons.aleph.search import count, search
from daemons.aleph.xservices import PRESENT_LIMIT, PresentedRecord, XServices
from daemons.common.epublication import Author, EPublication
from daemons.common.isbn import is_valid_isbn
from daemons.common.marc import from_oai_marc
from daemons.rpc.handler import HandlerContext

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
# Where a record stands in the library's workflow (Aleph's local IST, HLD, BAS, FMT and PJM fields).
SemanticInfo = namedtuple(
    "SemanticInfo",
    "hasAcquisitionFields hasISBNAgencyFields hasDescriptiveCatFields hasDescriptiveCatReviewFields "
    "hasSubjectCatFields hasSubjectCatReviewFields isClosed isSummaryRecord contentOfFMT "
    "parsedSummaryRecordSysNumber summaryRecordSysNumber",
)

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    Author, EPublication, GenericQuery, DocumentQuery, ISBNQuery, AuthorQuery, PublisherQuery, TitleQuery, ICZQuery,
    SearchRequest, SearchResult, CountRequest, CountResult, ISBNValidationRequest, ISBNValidationResult,
    ExportRequest, ExportResult, AlephRecord, SemanticInfo
)

OPTIONS_SPEC = """
url = string(default=None)
export_url = string(default=None)
export_signature = string(default='')
timeout = float(min=0.1, max=3600, default=30.0)
present_batch = integer(min=1, max=100, default=100)
library = string(default='NKC01')
"""


class BackendNotConfigured(RuntimeError):
    """The daemon's options lack what this request needs."""


_settings: dict[str, Any] = {}


def configure(context: HandlerContext) -> None:
    """Keep the validated options; requests read them."""
    _settings.clear()
    _settings.update(context.options)


def health() -> str | None:
    """A note for `status` when searches cannot work for lack of the server's URL."""
    if not _settings.get("url"):
        return ("aleph: option `url` is not set, searches and counts fail: add `url = http://<aleph server>` "
                "under [daemons] [[aleph]] [[[options]]]")
    return None


def _option(name: str, purpose: str) -> Any:
    value = _settings.get(name)
    if not value:
        raise BackendNotConfigured(
            f"{purpose} needs the aleph option `{name}`, which is not set: add `{name} = http://...` under "
            f"[daemons] [[aleph]] [[[options]]]"
        )
    return value


def _client(purpose: str) -> XServices:
    return XServices(_option("url", purpose), float(_settings.get("timeout", 30.0)))


def to_epublication(fields: dict[str, Any]) -> EPublication:
    """The wire structure from the plain fields the parser returns."""
    return EPublication(**{**fields, "autori": [Author(**author) for author in fields["autori"]]})


def to_aleph_record(base: str, presented: PresentedRecord, library: str) -> AlephRecord:
    """One presented OAI-MARC record as the old clients know it: raw XML plus what was read out of it."""
    record = from_oai_marc(presented.oai_marc)
    return AlephRecord(
        base=base,
        library=library,
        docNumber=presented.doc_number,
        xml=presented.xml,
        parsed_info=to_epublication(epublication_fields(record)),
        semantic_info=SemanticInfo(**semantic_fields(record)),
    )


def _search(request: SearchRequest) -> SearchResult:
    client = _client("SearchRequest")
    batch = int(_settings.get("present_batch", PRESENT_LIMIT))
    default_library = str(_settings.get("library", "NKC01"))
    records = []
    for base, presented in search(client, request.query, batch):
        library = request.query.library if isinstance(request.query, DocumentQuery) else default_library
        records.append(to_aleph_record(base, presented, library))
    return SearchResult(records)


def _export(request: ExportRequest) -> ExportResult:
    url = _option("export_url", "ExportRequest")
    epub = request.epublication
    if not isinstance(epub, EPublication):
        raise TypeError(f"ExportRequest.epublication must be an EPublication structure, got {type(epub).__name__}")
    fields = form_fields(epub)
    post_form(url, fields, float(_settings.get("timeout", 30.0)), str(_settings.get("export_signature", "")))
    return ExportResult(fields["P0501010__a"])


def _isbn_to_validate(value: Any) -> str:
    """Upstream clients send the ISBN itself or wrapped in an ISBNQuery; both are validated."""
    if isinstance(value, ISBNQuery):
        value = value.ISBN
    if not isinstance(value, str | int):
        raise TypeError(f"ISBNValidationRequest.ISBN must be the ISBN as text or an ISBNQuery, got "
                        f"{type(value).__name__} {value!r:.80}")
    return str(value)


def react(message: Any, send_back: Any) -> Any:
    """Answer one request; errors name what is wrong (option, query, field) and how to fix it."""
    if isinstance(message, ISBNValidationRequest):
        return ISBNValidationResult(is_valid_isbn(_isbn_to_validate(message.ISBN)))
    if isinstance(message, SearchRequest):
        return _search(message)
    if isinstance(message, CountRequest):
        return CountResult(count(_client("CountRequest"), message.query))
    if isinstance(message, ExportRequest):
        return _export(message)
    raise TypeError(
        f"aleph cannot handle {type(message).__name__}; send SearchRequest, CountRequest, ISBNValidationRequest "
        f"or ExportRequest"
    )
