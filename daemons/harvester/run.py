"""One harvest: read every feed, keep the titles not sent before, deliver them, remember them as sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from daemons.common import locks
from daemons.common.safe_xml import parse_xml
from daemons.harvester.feeds import FeedFetchError, FeedSource, fetch, resolve
from daemons.harvester.onix import is_onix, read_message
from daemons.harvester.opds import is_opds, read_feed
from daemons.harvester.sent import SentTitles
from daemons.harvester.structures import Publications
from daemons.harvester.titles import FeedPage, HarvestedTitle

MAX_PAGES = 10_000  # per OPDS feed; a guard against `next` links that never end


class FeedError(RuntimeError):
    """No configured feed could be harvested; the text lists each feed and why."""


class FeedFormatError(ValueError):
    """A feed document is neither OPDS nor ONIX 3.0 (or not the kind its `feeds` entry says)."""


@dataclass(frozen=True)
class Harvest:
    """Where a harvest reads from and what it remembers; `lock_path` serialises harvests across processes."""

    feeds: list[FeedSource]
    sent: SentTitles
    lock_path: Path
    timeout: float = 30.0
    log: logging.Logger = logging.getLogger("edeposit.harvester")


def read_page(source: FeedSource, data: bytes) -> FeedPage:
    """Parse one feed document according to its kind (given by the `feeds` entry or by its root element)."""
    root = parse_xml(data, f"feed {source}")
    if source.kind in (None, "opds") and is_opds(root):
        return read_feed(root)
    if source.kind in (None, "onix") and is_onix(root):
        return read_message(root)
    expected = {"opds": "an OPDS (Atom <feed>)", "onix": "an ONIX 3.0 (<ONIXMessage>)"}.get(
        source.kind or "", "an OPDS (Atom <feed>) or ONIX 3.0 (<ONIXMessage>)")
    raise FeedFormatError(
        f"feed {source}: root element <{root.tag!s}> is not {expected} document; fix the URL or the opds:/onix: prefix"
    )


def read_source(source: FeedSource, timeout: float) -> list[HarvestedTitle]:
    """Every title of one feed, following OPDS `next` pages (each page once)."""
    titles: list[HarvestedTitle] = []
    visited: set[str] = set()
    current: FeedSource | None = source
    while current is not None and current.location not in visited and len(visited) < MAX_PAGES:
        visited.add(current.location)
        page = read_page(current, fetch(current, timeout))
        titles.extend(page.titles)
        current = resolve(current, page.next_href) if page.next_href else None
    return titles


def collect(harvest: Harvest) -> tuple[list[HarvestedTitle], list[str]]:
    """Titles of every feed that could be read, and one error line per feed that could not."""
    titles: list[HarvestedTitle] = []
    errors: list[str] = []
    for source in harvest.feeds:
        try:
            found = read_source(source, harvest.timeout)
        except (FeedFetchError, ValueError) as exc:
            harvest.log.warning("harvest: %s", exc)
            errors.append(str(exc))
            continue
        harvest.log.info("harvest: %d titles in feed %s", len(found), source)
        titles.extend(found)
    return titles, errors


def harvest_once(harvest: Harvest, deliver: Callable[[Publications], None] | None = None) -> Publications:
    """Harvest every feed and return the titles not sent before as `Publications`.

    `deliver(publications)` is called before the titles are remembered as sent (only when there are any);
    if it raises (e.g. the broker is away), nothing is remembered and the titles come again next time.
    Feeds that fail are logged and skipped; FeedError only when every feed failed.
    """
    with locks.exclusive(harvest.lock_path):  # the scheduler, requests and other worker processes
        titles, new = _read_new(harvest)
        publications = Publications([title.publication for title in new])
        if new and deliver is not None:
            deliver(publications)
        harvest.sent.mark_sent(new)
    harvest.log.info("harvest: %d titles read, %d new", len(titles), len(new))
    return publications


def preview(harvest: Harvest) -> Publications:
    """What a harvest would send now, sending and remembering nothing (a dry run)."""
    with locks.exclusive(harvest.lock_path):
        titles, new = _read_new(harvest)
    harvest.log.info("harvest preview: %d titles read, %d new (nothing sent or remembered)", len(titles), len(new))
    return Publications([title.publication for title in new])


def _read_new(harvest: Harvest) -> tuple[list[HarvestedTitle], list[HarvestedTitle]]:
    """Every title read and those not sent before; the caller holds the harvest lock."""
    if not harvest.feeds:
        raise FeedError("no feeds configured: set `feeds` in [daemons] [[harvester]] [[[options]]], "
                        "e.g. feeds = opds:https://publisher.example/catalog.xml, onix:/srv/onix/titles.xml")
    titles, errors = collect(harvest)
    if errors and len(errors) == len(harvest.feeds):
        raise FeedError("no feed could be harvested:\n" + "\n".join(errors))
    return titles, harvest.sent.unsent(titles)
