"""A small client of Aleph's X-Services (HTTP GET answering XML): find, present and find_doc.

Note: Aleph reports an empty result as `<error>empty set</error>`; that is an empty set here, not an error.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from lxml import etree

from daemons.common.safe_xml import parse_xml

EMPTY_SET_ERRORS = ("empty set",)
# Aleph answers at most this many records per present request.
PRESENT_LIMIT = 100


class AlephUnreachable(ConnectionError):
    """No answer from the Aleph server."""


class AlephError(RuntimeError):
    """Aleph answered with an `<error>` that is not an empty set."""


@dataclass(frozen=True)
class FoundSet:
    set_number: str
    no_records: int


@dataclass(frozen=True)
class PresentedRecord:
    doc_number: str
    oai_marc: etree._Element

    @property
    def xml(self) -> str:
        return etree.tostring(self.oai_marc, encoding="unicode")


def endpoint(base_url: str) -> str:
    """The X-Services URL for a configured base ("http://aleph.example.org" -> ".../X")."""
    url = base_url.rstrip("/")
    return url if url.endswith("/X") else url + "/X"


class XServices:
    """Talks to one Aleph server; every failure names the URL it tried."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.url = endpoint(base_url)
        self.timeout = timeout

    def get(self, **params: str) -> etree._Element:
        url = f"{self.url}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise AlephError(f"Aleph at {url} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AlephUnreachable(
                f"Aleph X-Services at {self.url} is unreachable ({reason}); check the aleph `url` option "
                f"and that the server answers"
            ) from None
        return parse_xml(body, f"Aleph's answer to {params.get('op', '?')}")

    @staticmethod
    def _error(root: etree._Element) -> str | None:
        error = root.find("error")
        return (error.text or "").strip() if error is not None else None

    def find(self, field: str, phrase: str, base: str, adjacent: bool = True) -> FoundSet:
        """Run a search; an empty set has `no_records` 0."""
        root = self.get(op="find", request=f"{field}={phrase}", base=base, adjacent="Y" if adjacent else "N")
        error = self._error(root)
        if error is not None:
            if error.lower() in EMPTY_SET_ERRORS:
                return FoundSet("", 0)
            raise AlephError(f"Aleph refused the search {field}={phrase!r} in base {base!r}: {error}")
        return FoundSet(root.findtext("set_number", "").strip(), int(root.findtext("no_records", "0").strip() or 0))

    def present(self, set_number: str, first: int, last: int) -> list[PresentedRecord]:
        """Records `first`..`last` (1-based, inclusive) of a found set."""
        entries = f"{first:09d}-{last:09d}" if last > first else f"{first:09d}"
        root = self.get(op="present", set_number=set_number, set_entry=entries)
        error = self._error(root)
        if error is not None:
            raise AlephError(f"Aleph refused to present entries {entries} of set {set_number}: {error}")
        return [self._record(element) for element in root.findall("record")]

    def find_doc(self, doc_number: str, base: str) -> PresentedRecord | None:
        """One document by its number, or None when Aleph does not have it."""
        root = self.get(op="find_doc", doc_num=doc_number, base=base)
        if self._error(root) is not None:
            return None
        element = root.find("record")
        return self._record(element, doc_number) if element is not None else None

    @staticmethod
    def _record(element: etree._Element, doc_number: str = "") -> PresentedRecord:
        oai_marc = element.find(".//oai_marc")
        if oai_marc is None:
            raise AlephError("Aleph sent a record without <oai_marc> metadata")
        return PresentedRecord(element.findtext("doc_number", doc_number).strip() or doc_number, oai_marc)
