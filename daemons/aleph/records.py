"""What the aleph daemon reads out of a catalogue record: the EPublication fields and the semantic info.

The functions return plain dicts (authors as dicts too) so that the handler module alone defines the
wire structures built from them.
"""

from __future__ import annotations

import re
from typing import Any

from daemons.common.isbn import extract_isbn, is_valid_isbn
from daemons.common.marc import MarcRecord, clean, clean_end

_PARENTHESES = re.compile(r"\(([^)]*)\)")


def _qualifier(value: str) -> str:
    match = _PARENTHESES.search(value or "")
    return match.group(1).strip() if match else ""


def _isbn_fields(record: MarcRecord) -> dict[str, list[str]]:
    valid: list[str] = []
    invalid: list[str] = []
    of_set: list[str] = []
    for f in record.datafields("020"):
        for raw in f.values("a"):
            isbn = extract_isbn(raw)
            target = of_set if "soubor" in _qualifier(raw).lower() else valid
            (target if is_valid_isbn(isbn) else invalid).append(isbn)
        invalid += [extract_isbn(raw) for raw in f.values("z")]
    return {"ISBN": valid, "invalid_ISBN": invalid, "ISBNSouboruPublikaci": of_set}


def _binding(record: MarcRecord) -> str:
    for f in record.datafields("020"):
        for value in f.values("q") + [_qualifier(raw) for raw in f.values("a")]:
            if value:
                return clean(value.split(":")[-1]) or clean(value)
    return ""


def split_name(heading: str, title: str | None = None) -> dict[str, str]:
    """"May, Karl," -> firstName "Karl", lastName "May"; a heading without a comma is all last name."""
    last, _, first = clean(heading).partition(",")
    return {"firstName": clean(first), "lastName": clean(last), "title": clean(title)}


def authors_of(record: MarcRecord) -> list[dict[str, str]]:
    """Main and added personal names (100, 700), in record order."""
    return [split_name(f.first("a") or "", f.first("c")) for f in record.datafields("100", "700") if f.first("a")]


def _publication(record: MarcRecord, code: str) -> str:
    """From 260 or, in newer records, 264 with second indicator 1 (publication)."""
    value = record.first("260", code)
    if value is None:
        value = next((f.first(code) for f in record.datafields("264") if f.ind2 == "1" and f.first(code)), None)
    return clean(value)


def _first(record: MarcRecord, tag: str, code: str) -> str:
    return clean(record.first(tag, code))


def epublication_fields(record: MarcRecord) -> dict[str, Any]:
    """The EPublication fields of a record (lists where the old structure had lists)."""
    urls = [u for u in record.values("856", "u") if not u.lower().startswith("urn:nbn")]
    return {
        **_isbn_fields(record),
        "id_number": record.control.get("001", ""),
        "nazev": _first(record, "245", "a"),
        "podnazev": _first(record, "245", "b"),
        "vazba": _binding(record),
        "cena": _first(record, "020", "c"),
        "castDil": _first(record, "245", "n"),
        "nazevCasti": _first(record, "245", "p"),
        "nakladatelVydavatel": _publication(record, "b"),
        "datumVydani": clean_end(_publication(record, "c")),
        "poradiVydani": _first(record, "250", "a"),
        "zpracovatelZaznamu": _first(record, "040", "a"),
        "format": _first(record, "856", "q") or _first(record, "300", "c"),
        "url": urls,
        "mistoVydani": _publication(record, "a"),
        "autori": authors_of(record),
        "originaly": [clean_end(v) for v in record.values("765", "t") + record.values("240", "a")],
        "internal_url": record.values("URL", "u"),
        "anotace": _first(record, "520", "a"),
    }


# Aleph's status codes (field IST $a) and what they say about the record's workflow.
_STATUS_PREFIXES = {
    "jp2": "hasDescriptiveCatFields",
    "jr2": "hasDescriptiveCatReviewFields",
    "vp": "hasSubjectCatFields",
    "vr": "hasSubjectCatReviewFields",
    "ii2": "hasISBNAgencyFields",
}
CLOSED_BASE = "90"


def summary_record_number(text: str) -> str:
    """First token with more than three digits in a free-text link ("Souborný záznam viz nkc2015...")."""
    for token in (text or "").split():
        token = token.strip(" .,:;<>(){}[]\\/")
        if sum(ch.isdigit() for ch in token) > 3:
            return token
    return ""


def semantic_fields(record: MarcRecord) -> dict[str, Any]:
    """Where the record stands in the library's workflow, from Aleph's local fields."""
    info: dict[str, Any] = {name: False for name in _STATUS_PREFIXES.values()}
    info["hasAcquisitionFields"] = record.has("HLD")
    for status in record.values("IST", "a"):
        status = status.replace(" ", "")
        for prefix, name in _STATUS_PREFIXES.items():
            if status.startswith(prefix):
                info[name] = True
    fmt = record.control.get("FMT") or _first(record, "FMT", "a")
    summary = next((v for v in record.values("PJM", "a") if v), "")
    info.update(
        isClosed=CLOSED_BASE in [clean(v) for v in record.values("BAS", "a")],
        isSummaryRecord=fmt == "SE",
        contentOfFMT=fmt,
        parsedSummaryRecordSysNumber=summary_record_number(summary),
        summaryRecordSysNumber=summary,
    )
    return info
