"""Which feeds the harvester reads (the `feeds` option) and how their bytes are fetched.

Syntax of one entry: `[opds:|onix:]<location>`, where the location is an http(s) URL or a local path.
Without a prefix the kind is recognised from the document's root element.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

KINDS = ("opds", "onix")
USER_AGENT = "edeposit-amqpd harvester"


class FeedConfigError(ValueError):
    """An entry of the `feeds` option cannot be understood."""


class FeedFetchError(RuntimeError):
    """A feed could not be read (unreachable URL, HTTP error, missing file)."""


@dataclass(frozen=True)
class FeedSource:
    """One publisher feed: where it is and, when the entry says so, which kind it is."""

    location: str
    kind: str | None = None

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}" if self.kind else self.location


def parse_feed_entry(entry: str) -> FeedSource:
    """`opds:https://example.org/catalog.xml` -> FeedSource(location, "opds")."""
    text = entry.strip()
    kind = None
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in KINDS:
        kind, text = prefix.lower(), rest.strip()
    if not text:
        raise FeedConfigError(f"feeds entry {entry!r}: no URL or path; write e.g. opds:https://host/catalog.xml")
    scheme, sep, _ = text.partition("://")
    if sep and scheme.lower() not in ("http", "https"):
        raise FeedConfigError(
            f"feeds entry {entry!r}: scheme {scheme!r} is not supported; use http(s):// URLs or local paths"
        )
    return FeedSource(text, kind)


def parse_feeds_option(value: str | list[str] | None) -> list[FeedSource]:
    """The `feeds` option (a comma-separated list, which configobj already splits) as FeedSources."""
    if value is None:
        return []
    entries = value.split(",") if isinstance(value, str) else list(value)
    return [parse_feed_entry(entry) for entry in entries if entry.strip()]


def fetch(source: FeedSource, timeout: float) -> bytes:
    """The feed document's bytes; FeedFetchError names the feed and the reason."""
    if not source.is_url:
        path = Path(source.location).expanduser()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise FeedFetchError(f"feed {source}: cannot read {path}: {exc.strerror or exc}") from exc
    request = urllib.request.Request(source.location, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return response.read()
    except urllib.error.HTTPError as exc:
        raise FeedFetchError(f"feed {source}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FeedFetchError(f"feed {source}: cannot reach {source.location}: {reason}") from exc


def resolve(base: FeedSource, href: str) -> FeedSource:
    """A link found in `base` (e.g. OPDS `next`) as a FeedSource of the same kind."""
    if base.is_url:
        target = urllib.parse.urljoin(base.location, href)
        if not target.startswith(("http://", "https://")):
            raise FeedFetchError(f"feed {base}: link {href!r} leaves http(s); it is not followed")
        return FeedSource(target, base.kind)
    if href.startswith(("http://", "https://")):
        return FeedSource(href, base.kind)
    return FeedSource(str(Path(base.location).parent / href), base.kind)
