"""The harvester's feed readers, dedup and request handling, called as plain functions on files and HTTP."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.common.isbn import is_valid_isbn13
from daemons.common.safe_xml import UnsafeXMLError, parse_xml
from daemons.harvester import handler as harvester
from daemons.harvester.feeds import FeedConfigError, FeedSource, parse_feeds_option
from daemons.harvester.run import FeedError, Harvest, harvest_once
from daemons.harvester.sent import SentTitles
from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.rpc.handler import HandlerContext
from daemons.rpc.loader import HandlerError, validate_options
from daemons.rpc.settings import DaemonSettings
from daemons.testing import wait_for
from tests.fixtures.feeds import SampleTitle, isbn13, onix_message, opds_feed, sample_titles, serve_directory

NEMCOVA = SampleTitle("Babička", "Božena Němcová", "978-80-204-0523-0", price="249.00", pages=312)


def make_harvest(tmp_path: Path, *feeds: str) -> Harvest:
    return Harvest(feeds=parse_feeds_option(list(feeds)), sent=SentTitles(tmp_path / "db" / "harvester.sqlite"),
                   lock_path=tmp_path / "db" / "harvest.lock", timeout=5)


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Path]:
    """The handler configured with one local OPDS feed (interval 0: requests only)."""
    feed = tmp_path / "catalog.xml"
    feed.write_bytes(opds_feed(sample_titles(3)))
    harvester.configure(HandlerContext(name="harvester", options={"feeds": [f"opds:{feed}"], "interval": 0},
                                       data_dir=tmp_path / "data", state_dir=tmp_path))
    yield feed
    harvester.shutdown()


def test_opds_entry_maps_to_publication_with_optionals(tmp_path: Path) -> None:
    feed = tmp_path / "catalog.xml"
    feed.write_bytes(opds_feed([NEMCOVA]))
    [publication] = harvest_once(make_harvest(tmp_path, str(feed))).publications
    assert publication.title == "Babička"
    assert publication.authors == [harvester.Author(name="Božena Němcová", URL="https://authors.example/0")]
    assert publication.price == "249.00 CZK"
    assert publication.publisher == "Nakladatelství Test"
    optionals = publication.optionals
    assert (optionals.ISBN, optionals.pages, optionals.language) == ("978-80-204-0523-0", 312, "cze")
    assert (optionals.format, optionals.is_ebook, optionals.pub_date) == ("epub", True, "2026-01-15")
    assert optionals.URL == "https://shop.example/0.epub"
    assert optionals.description == "Popis titulu Babička"


def test_onix_product_maps_to_publication_with_optionals(tmp_path: Path) -> None:
    feed = tmp_path / "titles.onix"
    feed.write_bytes(onix_message([NEMCOVA]))
    [publication] = harvest_once(make_harvest(tmp_path, f"onix:{feed}")).publications
    assert (publication.title, publication.price) == ("Babička", "249.00 CZK")
    assert [author.name for author in publication.authors] == ["Božena Němcová"]
    optionals = publication.optionals
    assert (optionals.sub_title, optionals.edition, optionals.pub_place) == ("Podtitul", "2", "Praha")
    assert (optionals.binding, optionals.is_ebook, optionals.format) == ("hardback", False, None)
    assert (optionals.ISBN, optionals.pages, optionals.pub_date) == ("978-80-204-0523-0", 312, "20260115")


SHORT_TAG_ONIX = """<?xml version="1.0" encoding="UTF-8"?>
<ONIXmessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/short">
  <header><x298><x299>Albatros</x299></x298><x307>20260115</x307></header>
  <product>
    <a001>alb.1</a001><a002>03</a002>
    <productidentifier><b221>15</b221><b244>9788000012345</b244></productidentifier>
    <descriptivedetail><x314>00</x314><b012>ED</b012><b333>E101</b333>
      <titledetail><b202>01</b202><titleelement><x409>01</x409><b030>The</b030><b031>Shark in the Park</b031>
        <b029>Left Shark's Park Lark</b029></titleelement></titledetail>
      <contributor><b034>1</b034><b035>A01</b035><b039>Nick</b039><b040>Sharratt</b040></contributor>
      <language><b253>01</b253><b252>eng</b252></language>
    </descriptivedetail>
    <publishingdetail><publisher><b291>01</b291><b081>Albatros</b081></publisher><b209>Praha</b209>
      <publishingdate><x448>01</x448><b306>20260110</b306></publishingdate></publishingdetail>
    <productsupply><supplydetail><j396>20</j396><price><x462>02</x462><j151>149.00</j151><j152>CZK</j152></price>
    </supplydetail></productsupply>
  </product>
</ONIXmessage>
"""


def test_onix_short_tags_map_like_reference_tags(tmp_path: Path) -> None:
    (tmp_path / "short.xml").write_text(SHORT_TAG_ONIX)
    [publication] = harvest_once(make_harvest(tmp_path, str(tmp_path / "short.xml"))).publications
    assert (publication.title, publication.price, publication.publisher) == ("The Shark in the Park", "149.00 CZK",
                                                                              "Albatros")
    assert [author.name for author in publication.authors] == ["Nick Sharratt"]
    optionals = publication.optionals
    assert (optionals.sub_title, optionals.ISBN, optionals.language) == ("Left Shark's Park Lark", "9788000012345",
                                                                         "eng")
    assert (optionals.is_ebook, optionals.format, optionals.pub_date, optionals.pub_place) == (
        True, "epub", "20260110", "Praha")


def test_feed_kind_is_recognised_without_prefix(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(opds_feed(sample_titles(2)))
    (tmp_path / "b.xml").write_bytes(onix_message(sample_titles(2, start=2)))
    result = harvest_once(make_harvest(tmp_path, str(tmp_path / "a.xml"), str(tmp_path / "b.xml")))
    assert [p.title for p in result.publications] == ["Kniha 0", "Kniha 1", "Kniha 2", "Kniha 3"]


def test_title_already_sent_is_not_sent_again(tmp_path: Path) -> None:
    feed = tmp_path / "catalog.xml"
    feed.write_bytes(opds_feed(sample_titles(3)))
    harvest = make_harvest(tmp_path, str(feed))
    assert len(harvest_once(harvest).publications) == 3
    feed.write_bytes(opds_feed(sample_titles(4)))
    assert [p.title for p in harvest_once(harvest).publications] == ["Kniha 3"]
    assert harvest_once(harvest).publications == []


def test_same_isbn_in_two_feeds_is_sent_once(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(opds_feed([NEMCOVA]))
    (tmp_path / "b.xml").write_bytes(onix_message([dataclasses.replace(NEMCOVA, isbn="9788020405230")]))
    result = harvest_once(make_harvest(tmp_path, str(tmp_path / "a.xml"), str(tmp_path / "b.xml")))
    assert len(result.publications) == 1


def test_titles_stay_unsent_when_delivery_fails(tmp_path: Path) -> None:
    feed = tmp_path / "catalog.xml"
    feed.write_bytes(opds_feed(sample_titles(2)))
    harvest = make_harvest(tmp_path, str(feed))

    def broker_away(publications: object) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        harvest_once(harvest, deliver=broker_away)
    delivered: list[object] = []
    harvest_once(harvest, deliver=delivered.append)
    assert [len(p.publications) for p in delivered] == [2]


def test_paginated_opds_feed_is_followed_over_http(tmp_path: Path) -> None:
    titles = sample_titles(5)
    (tmp_path / "page1.xml").write_bytes(opds_feed(titles[:2], next_href="page2.xml"))
    (tmp_path / "page2.xml").write_bytes(opds_feed(titles[2:], next_href="page1.xml", start=2))  # a loop back
    with serve_directory(tmp_path) as base_url:
        result = harvest_once(make_harvest(tmp_path, f"opds:{base_url}page1.xml"))
    assert [p.title for p in result.publications] == [t.title for t in titles]


def test_one_broken_feed_does_not_stop_the_others(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "good.xml").write_bytes(opds_feed(sample_titles(1)))
    with caplog.at_level(logging.WARNING):
        result = harvest_once(make_harvest(tmp_path, str(tmp_path / "missing.xml"), str(tmp_path / "good.xml")))
    assert [p.title for p in result.publications] == ["Kniha 0"]
    assert "missing.xml" in caplog.text


def test_unreachable_feeds_give_an_error_naming_each(tmp_path: Path) -> None:
    with serve_directory(tmp_path) as base_url:
        harvest = make_harvest(tmp_path, f"{base_url}absent.xml", str(tmp_path / "nope.xml"))
        with pytest.raises(FeedError) as error:
            harvest_once(harvest)
    assert "absent.xml: HTTP 404" in str(error.value)
    assert "nope.xml" in str(error.value)


def test_feed_of_the_wrong_kind_is_named_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "titles.xml").write_bytes(onix_message(sample_titles(1)))
    with pytest.raises(FeedError, match=r"opds:.*titles.xml: root element .*ONIXMessage.* is not an OPDS"):
        harvest_once(make_harvest(tmp_path, f"opds:{tmp_path / 'titles.xml'}"))


def test_feed_with_external_entity_is_refused_and_nothing_leaks(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    evil = opds_feed([SampleTitle("&xxe;", "x")]).replace(
        b"<feed ", f'<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file://{secret}">]>\n<feed '.encode(), 1)
    (tmp_path / "evil.xml").write_bytes(evil)
    with pytest.raises(UnsafeXMLError, match="declares a DOCTYPE"):
        parse_xml(evil, "evil.xml")
    with pytest.raises(FeedError) as error:
        harvest_once(make_harvest(tmp_path, str(tmp_path / "evil.xml")))
    assert "TOP-SECRET-CONTENT" not in str(error.value)


def test_feeds_option_syntax(tmp_path: Path) -> None:
    sources = parse_feeds_option("opds:https://a.example/c.xml, ONIX: /srv/onix.xml ,http://b.example/x")
    assert sources == [FeedSource("https://a.example/c.xml", "opds"), FeedSource("/srv/onix.xml", "onix"),
                       FeedSource("http://b.example/x", None)]
    with pytest.raises(FeedConfigError, match="scheme 'ftp' is not supported"):
        parse_feeds_option(["ftp://a.example/feed.xml"])


def test_bad_interval_option_names_key_and_value() -> None:
    defaults = BUILTIN_DAEMONS["harvester"]
    settings = DaemonSettings(name="harvester", handler=defaults.handler, vhost="v", exchange="harvester",
                              input_queue="daemon", output_queue="plone", input_key="request", output_key="result",
                              options={"interval": "-5"})
    with pytest.raises(HandlerError, match=r"interval = '-5'.*too small"):
        validate_options(settings.name, settings.options, harvester.OPTIONS_SPEC)


def test_harvest_request_answers_new_titles_once(configured: Path) -> None:
    first = harvester.react(harvester.HarvestRequest(), [].append)
    assert isinstance(first, harvester.Publications) and len(first.publications) == 3
    assert harvester.react(harvester.HarvestRequest(), [].append).publications == []


def test_unknown_message_is_an_error_naming_it(configured: Path) -> None:
    with pytest.raises(TypeError, match="cannot handle Publication; send HarvestRequest"):
        harvester.react(harvester.Publication("t", [], None, None, None), [].append)


def test_health_names_missing_feeds(tmp_path: Path) -> None:
    harvester.configure(HandlerContext(name="harvester", options={"feeds": [], "interval": 0},
                                       data_dir=tmp_path, state_dir=tmp_path))
    assert "no feeds configured" in harvester.health()


def test_sample_isbns_are_valid() -> None:
    assert all(is_valid_isbn13(isbn13(n)) for n in (0, 1, 99, 123456))


def test_schedule_retries_titles_the_worker_could_not_publish_yet(tmp_path: Path) -> None:
    feed = tmp_path / "catalog.xml"
    feed.write_bytes(opds_feed(sample_titles(3)))
    attempts: list[object] = []
    published: list[object] = []

    def publish(value: object, routing_key: str | None = None) -> None:
        attempts.append(value)
        if len(attempts) == 1:
            raise RuntimeError("the worker is not running yet")
        published.append(value)

    harvester.configure(HandlerContext(name="harvester", options={"feeds": [str(feed)], "interval": 0.05},
                                       data_dir=tmp_path / "data", state_dir=tmp_path, publish=publish))
    try:
        wait_for(lambda: published, 10, what="the retried publication")
        wait_for(lambda: len(attempts) >= 2 and harvester._harvest.sent.count() == 3, 10, what="titles marked sent")
    finally:
        harvester.shutdown()
    assert [[p.title for p in value.publications] for value in published] == [["Kniha 0", "Kniha 1", "Kniha 2"]]
