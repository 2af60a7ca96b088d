"""The e-publication record the daemons pass around (aleph exports it, ftp_monitor parses it from
metadata files, pdfgen prints its review form): one definition, the old field names."""

from __future__ import annotations

from collections import namedtuple

EPUBLICATION_FIELDS = (
    "ISBN invalid_ISBN id_number nazev podnazev vazba cena castDil nazevCasti nakladatelVydavatel "
    "datumVydani poradiVydani zpracovatelZaznamu format url mistoVydani ISBNSouboruPublikaci autori "
    "originaly internal_url anotace"
)
# Fields a sender leaves out are unknown (None), as old clients often sent partial records.
EPublication = namedtuple("EPublication", EPUBLICATION_FIELDS, defaults=(None,) * 21)
Author = namedtuple("Author", "firstName lastName title")
