"""Test tools for the harvester: write OPDS and ONIX feeds and serve them over HTTP on 127.0.0.1.

    with serve_directory(tmp_path) as base_url:
        (tmp_path / "catalog.xml").write_bytes(opds_feed([SampleTitle("Babička", "Božena Němcová", "9788020405230")]))
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class SampleTitle:
    """What a test feed says about one title."""

    title: str
    author: str
    isbn: str | None = None
    price: str = "199.00"
    currency: str = "CZK"
    publisher: str = "Nakladatelství Test"
    language: str = "cze"
    pages: int = 240
    issued: str = "2026-01-15"


def isbn13(serial: int) -> str:
    """A valid ISBN-13 in the 978-80 (Czech) range for a serial number, for feeds of any size."""
    body = f"97880{serial:07d}"
    check = (10 - sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(body)) % 10) % 10
    return body + str(check)


def sample_titles(count: int, start: int = 0) -> list[SampleTitle]:
    return [SampleTitle(f"Kniha {n}", f"Autor {n}", isbn13(n)) for n in range(start, start + count)]


def _opds_entry(title: SampleTitle, serial: int) -> str:
    identifier = f"<dc:identifier>urn:isbn:{title.isbn}</dc:identifier>" if title.isbn else ""
    return f"""
  <entry>
    <title>{escape(title.title)}</title>
    <id>urn:uuid:00000000-0000-0000-0000-{serial:012d}</id>
    <updated>2026-01-15T10:00:00Z</updated>
    <author><name>{escape(title.author)}</name><uri>https://authors.example/{serial}</uri></author>
    <dcterms:publisher>{escape(title.publisher)}</dcterms:publisher>
    <dcterms:issued>{title.issued}</dcterms:issued>
    <dcterms:language>{title.language}</dcterms:language>
    <dcterms:extent>{title.pages} pages</dcterms:extent>
    {identifier}
    <summary>Popis titulu {escape(title.title)}</summary>
    <link rel="http://opds-spec.org/acquisition/buy" href="https://shop.example/{serial}.epub"
          type="application/epub+zip"><opds:price currencycode="{title.currency}">{title.price}</opds:price></link>
  </entry>"""


def opds_feed(titles: list[SampleTitle], next_href: str | None = None, start: int = 0) -> bytes:
    """An OPDS 1.2 acquisition feed with one entry per title (and a `next` link when given)."""
    next_link = f'<link rel="next" href={quoteattr(next_href)} type="application/atom+xml"/>' if next_href else ""
    entries = "".join(_opds_entry(title, start + n) for n, title in enumerate(titles))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
      xmlns:dcterms="http://purl.org/dc/terms/" xmlns:opds="http://opds-spec.org/2010/catalog">
  <id>urn:uuid:feed</id>
  <title>Test catalog</title>
  <updated>2026-01-15T10:00:00Z</updated>
  {next_link}{entries}
</feed>
""".encode()


def _onix_product(title: SampleTitle, serial: int) -> str:
    identifier = (f"<ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>{title.isbn}</IDValue>"
                  f"</ProductIdentifier>") if title.isbn else ""
    return f"""
  <Product>
    <RecordReference>test.{serial}</RecordReference>
    <NotificationType>03</NotificationType>
    {identifier}
    <DescriptiveDetail>
      <ProductComposition>00</ProductComposition>
      <ProductForm>BB</ProductForm>
      <TitleDetail><TitleType>01</TitleType><TitleElement><TitleElementLevel>01</TitleElementLevel>
        <TitleText>{escape(title.title)}</TitleText><Subtitle>Podtitul</Subtitle></TitleElement></TitleDetail>
      <Contributor><SequenceNumber>1</SequenceNumber><ContributorRole>A01</ContributorRole>
        <PersonName>{escape(title.author)}</PersonName></Contributor>
      <EditionNumber>2</EditionNumber>
      <Language><LanguageRole>01</LanguageRole><LanguageCode>{title.language}</LanguageCode></Language>
      <Extent><ExtentType>00</ExtentType><ExtentValue>{title.pages}</ExtentValue><ExtentUnit>03</ExtentUnit></Extent>
    </DescriptiveDetail>
    <CollateralDetail><TextContent><TextType>03</TextType><ContentAudience>00</ContentAudience>
      <Text>Popis titulu {escape(title.title)}</Text></TextContent></CollateralDetail>
    <PublishingDetail>
      <Publisher><PublishingRole>01</PublishingRole><PublisherName>{escape(title.publisher)}</PublisherName></Publisher>
      <CityOfPublication>Praha</CityOfPublication>
      <PublishingDate><PublishingDateRole>01</PublishingDateRole><Date>{title.issued.replace("-", "")}</Date>
      </PublishingDate>
    </PublishingDetail>
    <ProductSupply><SupplyDetail><ProductAvailability>20</ProductAvailability>
      <Price><PriceType>02</PriceType><PriceAmount>{title.price}</PriceAmount><CurrencyCode>{title.currency}</CurrencyCode>
      </Price></SupplyDetail></ProductSupply>
  </Product>"""


def onix_message(titles: list[SampleTitle], start: int = 0) -> bytes:
    """An ONIX for Books 3.0 message (reference tags, namespaced) with one product per title."""
    products = "".join(_onix_product(title, start + n) for n, title in enumerate(titles))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/reference">
  <Header><Sender><SenderName>Test</SenderName></Sender><SentDateTime>20260115</SentDateTime></Header>{products}
</ONIXMessage>
""".encode()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        pass


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on 127.0.0.1 (a free port); yields the base URL ending in '/'."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="feed-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
