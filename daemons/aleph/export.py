"""Sends an EPublication to Aleph's book-announcement web form (an HTTP form POST to `export_url`).

The form's field names are Aleph's (they encode the MARC field each value lands in); a rejection comes
back as an `aleph-info` response header starting with "Error".
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from daemons.aleph.xservices import AlephUnreachable
from daemons.common.isbn import is_valid_isbn

PUNCTUATION = "/:;,- "
SINGLE_VALUE_FIELDS = {
    "P07012001_a": "nazev", "P07032001_e": "podnazev", "P0502010__b": "vazba", "P0504010__d": "cena",
    "P07042001_h": "castDil", "P07052001_i": "nazevCasti", "P0902210__c": "nakladatelVydavatel",
    "P0903210__d": "datumVydani", "P0801205__a": "poradiVydani", "P1502IST1_b": "zpracovatelZaznamu",
    "P0503010__x": "format", "P0901210__a": "mistoVydani",
}
AUTHOR_FIELDS = ("P1301ZAK__b", "P1302ZAK__c", "P1303ZAK__c")
REQUIRED = {
    "nazev": "P07012001_a", "mistoVydani": "P0901210__a", "datumVydani": "P0903210__d",
    "poradiVydani": "P0801205__a", "zpracovatelZaznamu": "P1502IST1_b", "vazba": "P0502010__b",
    "nakladatelVydavatel": "P0902210__c",
}
DEFAULT_URL = "http://edeposit.nkp.cz/"
# vazba (binding/form) -> leader, FMT, base, general material designation, processor code
MEDIA = {
    "mapa": ("-----nem-a22------a-4500", "MP", "30", "kartografický dokument", "ow"),
    "CD-ROM": ("-----nam-a22------a-4500", "BK", "30", "elektronický zdroj", "ow"),
    "DVD": ("-----nam-a22------a-4500", "BK", "30", "elektronický zdroj", "ow"),
}
ELECTRONIC = ("-----nam-a22------a-4500", "BK", "49", "elektronický zdroj", "ox")


class ExportRejectedException(Exception):
    """Aleph refused the export (its `aleph-info` header started with `Error`)."""


class ExportDataError(ValueError):
    """The EPublication lacks what the form requires, or holds an invalid ISBN."""


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip(PUNCTUATION)


def _isbn(value: Any, field: str, required: bool) -> str:
    isbn = _text(value).upper()
    if not isbn and not required:
        return ""
    if not is_valid_isbn(isbn):
        raise ExportDataError(f"EPublication.{field} = {isbn!r} is not a valid ISBN-10/13 (checksum); fix the ISBN")
    if required and not (isbn.startswith("80") or isbn.startswith("978-80") or isbn.startswith("97880")):
        raise ExportDataError(f"EPublication.{field} = {isbn!r}: the form accepts only Czech ISBNs (80-…, 978-80-…)")
    return isbn


def _author_name(author: Any) -> str:
    if isinstance(author, str):
        return author.strip(PUNCTUATION)
    get = author.get if isinstance(author, dict) else lambda key, default="": getattr(author, key, default)
    last, first = _text(get("lastName", "")), _text(get("firstName", ""))
    return ", ".join(part for part in (last, first) if part)


def form_fields(epub: Any) -> dict[str, str]:
    """The POST fields for `epub`; ExportDataError naming the first missing or invalid value."""
    form = {key: _text(getattr(epub, attribute)) for key, attribute in SINGLE_VALUE_FIELDS.items()}
    form["P0501010__a"] = _isbn(epub.ISBN, "ISBN", required=True)
    form["P1601ISB__a"] = form["P0501010__a"]
    set_isbn = _isbn(epub.ISBNSouboruPublikaci, "ISBNSouboruPublikaci", required=False)
    form["P0601010__a"] = set_isbn
    if set_isbn:
        form["P0601010__b"] = f"soubor : {set_isbn}"
    form["P110185640u"] = _text(epub.url) or DEFAULT_URL
    form["P1801URL__u"] = _text(epub.internal_url)
    names = [name for name in (_author_name(a) for a in (epub.autori or [])) if name]
    if len(names) > len(AUTHOR_FIELDS):
        names = names[:2] + [", ".join(names[2:])]
    form.update(zip(AUTHOR_FIELDS, names, strict=False))
    leader, fmt, base, designation, processor = MEDIA.get(form["P0502010__b"], ELECTRONIC)
    form.update({"P0100LDR__": leader, "P0200FMT__": fmt, "P0300BAS__a": base, "P07022001_b": designation,
                 "P1501IST1_a": processor})
    missing = [f"{attribute} ({key})" for attribute, key in REQUIRED.items() if not form.get(key)]
    if missing:
        raise ExportDataError(f"EPublication lacks what the Aleph form requires: {', '.join(missing)}; fill them in")
    return form


def post_form(url: str, fields: dict[str, str], timeout: float = 30.0, signature: str = "") -> str:
    """POST the form; the `aleph-info` header's text. ExportRejectedException when it starts with Error."""
    data = urllib.parse.urlencode({**({"sid": signature} if signature else {}), **fields}).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            info = response.headers.get("aleph-info", "")
            response.read()
    except urllib.error.HTTPError as exc:
        info = exc.headers.get("aleph-info", "") if exc.headers else ""
        if not info.lower().strip().startswith("error"):
            raise ExportRejectedException(
                f"Aleph's export form at {url} answered HTTP {exc.code} {exc.reason}"
            ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlephUnreachable(
            f"Aleph's export form at {url} is unreachable ({reason}); check the aleph `export_url` option"
        ) from None
    if info.lower().strip().startswith("error"):
        raise ExportRejectedException(f"Aleph rejected the export: {info.strip()}")
    return info
