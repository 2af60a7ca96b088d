"""Reads an OPDS 1.2 acquisition feed (Atom) into harvested titles, and finds its `next` page."""

from __future__ import annotations

import re

from lxml import etree

from daemons.common.safe_xml import text_of
from daemons.harvester.structures import Author, Optionals, Publication, empty_optionals
from daemons.harvester.titles import FeedPage, HarvestedTitle, title_key

ATOM = "http://www.w3.org/2005/Atom"
NS = {
    "atom": ATOM,
    "dcterms": "http://purl.org/dc/terms/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "opds": "http://opds-spec.org/2010/catalog",
}
ACQUISITION = "http://opds-spec.org/acquisition"
FORMATS = {
    "application/epub+zip": "epub",
    "application/pdf": "pdf",
    "application/x-mobipocket-ebook": "mobi",
    "application/vnd.amazon.ebook": "azw",
    "application/x-fictionbook+xml": "fb2",
    "text/html": "html",
}


def is_opds(root: etree._Element) -> bool:
    return root.tag == f"{{{ATOM}}}feed"


def _first(entry: etree._Element, *paths: str) -> str | None:
    for path in paths:
        value = text_of(entry.find(path, NS))
        if value:
            return value
    return None


def _identifiers(entry: etree._Element) -> list[str]:
    found = [text_of(e) for e in entry.findall("dc:identifier", NS) + entry.findall("dcterms:identifier", NS)]
    found.append(text_of(entry.find("atom:id", NS)))
    return [value for value in found if value]


def _prefixed(identifiers: list[str], *prefixes: str) -> str | None:
    for value in identifiers:
        lowered = value.lower()
        for prefix in prefixes:
            if lowered.startswith(prefix):
                return value[len(prefix):].strip()
    return None


def _acquisition_links(entry: etree._Element) -> list[etree._Element]:
    return [link for link in entry.findall("atom:link", NS) if (link.get("rel") or "").startswith(ACQUISITION)]


def _price(links: list[etree._Element]) -> str | None:
    for link in links:
        price = link.find("opds:price", NS)
        amount = text_of(price)
        if price is not None and amount:
            currency = price.get("currencycode") or price.get("currencyCode")
            return f"{amount} {currency}" if currency else amount
    return None


def _pages(extent: str | None) -> int | None:
    match = re.search(r"\d+", extent or "")
    return int(match.group()) if match else None


def _optionals(entry: etree._Element, links: list[etree._Element]) -> Optionals:
    identifiers = _identifiers(entry)
    mime = next((link.get("type") for link in links if link.get("type")), None)
    alternate = next((link.get("href") for link in entry.findall("atom:link", NS) if link.get("rel") == "alternate"),
                     None)
    return empty_optionals()._replace(
        sub_title=_first(entry, "dcterms:alternative"),
        format=FORMATS.get((mime or "").split(";")[0].strip(), mime),
        pub_date=_first(entry, "dcterms:issued", "dc:date", "atom:published"),
        ISBN=_prefixed(identifiers, "urn:isbn:", "isbn:"),
        EAN=_prefixed(identifiers, "urn:ean:", "ean:"),
        description=_first(entry, "atom:summary", "atom:content"),
        pages=_pages(_first(entry, "dcterms:extent")),
        language=_first(entry, "dcterms:language", "dc:language"),
        URL=next((link.get("href") for link in links if link.get("href")), alternate),
        is_ebook=bool(links),
    )


def read_entry(entry: etree._Element) -> HarvestedTitle | None:
    """One `<entry>` as a title; None when it has no title (it cannot be catalogued)."""
    title = _first(entry, "atom:title")
    if title is None:
        return None
    links = _acquisition_links(entry)
    authors = [
        Author(name=name, URL=text_of(author.find("atom:uri", NS)))
        for author in entry.findall("atom:author", NS)
        if (name := text_of(author.find("atom:name", NS)))
    ]
    publication = Publication(
        title=title,
        authors=authors,
        price=_price(links),
        publisher=_first(entry, "dcterms:publisher", "dc:publisher"),
        optionals=_optionals(entry, links),
    )
    return HarvestedTitle(title_key(publication, _first(entry, "atom:id")), publication)


def read_feed(root: etree._Element) -> FeedPage:
    """Every entry of an OPDS feed document; navigation entries without a title are skipped."""
    titles, skipped = [], 0
    for entry in root.iterfind("atom:entry", NS):
        harvested = read_entry(entry)
        if harvested is None:
            skipped += 1
        else:
            titles.append(harvested)
    next_href = next((link.get("href") for link in root.findall("atom:link", NS) if link.get("rel") == "next"), None)
    return FeedPage(titles, next_href, skipped)
