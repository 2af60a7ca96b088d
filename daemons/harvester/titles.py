"""What a feed reader returns: titles with the key that recognises each again in a later harvest."""

from __future__ import annotations

from dataclasses import dataclass

from daemons.common.isbn import normalize
from daemons.harvester.structures import Publication


@dataclass(frozen=True)
class HarvestedTitle:
    """A `Publication` plus its dedup key: the ISBN when known, else the feed's own id, else title + authors."""

    key: str
    publication: Publication


@dataclass(frozen=True)
class FeedPage:
    """The titles of one feed document, the href of its next page (paginated OPDS) and how many were skipped."""

    titles: list[HarvestedTitle]
    next_href: str | None
    skipped: int = 0


def title_key(publication: Publication, feed_id: str | None) -> str:
    """Stable across feeds for the same ISBN/EAN, so a title listed by two publishers is sent once."""
    optionals = publication.optionals
    if optionals.ISBN:
        return f"isbn:{normalize(optionals.ISBN)}"
    if optionals.EAN:
        return f"ean:{normalize(optionals.EAN)}"
    if feed_id:
        return f"id:{feed_id.strip()}"
    names = ";".join(author.name for author in publication.authors)
    return f"title:{publication.title.strip().casefold()}|{names.casefold()}"
