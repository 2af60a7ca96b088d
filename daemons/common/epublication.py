"""The e-publication record the daemons pass around (aleph exports it, ftp_monitor parses it from
metadata files, pdfgen prints its review form): one definition, the old field names."""

from __future__ import annotations

from typing import Any, NamedTuple


class EPublication(NamedTuple):
    """Fields a sender leaves out are unknown (None), as old clients often sent partial records."""

    ISBN: Any = None
    invalid_ISBN: Any = None
    id_number: Any = None
    nazev: Any = None
    podnazev: Any = None
    vazba: Any = None
    cena: Any = None
    castDil: Any = None
    nazevCasti: Any = None
    nakladatelVydavatel: Any = None
    datumVydani: Any = None
    poradiVydani: Any = None
    zpracovatelZaznamu: Any = None
    format: Any = None
    url: Any = None
    mistoVydani: Any = None
    ISBNSouboruPublikaci: Any = None
    autori: Any = None
    originaly: Any = None
    internal_url: Any = None
    anotace: Any = None


class Author(NamedTuple):
    firstName: Any
    lastName: Any
    title: Any


EPUBLICATION_FIELDS: tuple[str, ...] = EPublication._fields
