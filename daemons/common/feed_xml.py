"""Parsing XML that comes from outside (publisher feeds, Aleph's result files) without trusting it.

The parser resolves no entities, loads no DTD and never touches the network; a document that declares
its own DTD subset (the way XXE and "billion laughs" attacks start) is refused outright.
"""

from __future__ import annotations

from lxml import etree


class UnsafeXMLError(ValueError):
    """The document declares entities or a DTD subset, which this daemon refuses to read."""


class BadXMLError(ValueError):
    """The document is not well-formed XML."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=True)


def parse_untrusted(data: bytes, source: str) -> etree._Element:
    """The root element of `data`; `source` (a path or URL) names the document in every error."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise BadXMLError(f"{source}: not well-formed XML ({exc}); check that it is a complete XML document") from exc
    if root is None:
        raise BadXMLError(f"{source}: empty XML document")
    if root.getroottree().docinfo.internalDTD is not None:
        raise UnsafeXMLError(
            f"{source}: the document declares a DTD subset or entities (<!DOCTYPE ... [ ... ]>), which are refused "
            f"for safety; remove the DOCTYPE declaration"
        )
    return root


def text_of(element: etree._Element | None) -> str | None:
    """The element's whole text, stripped, or None when it is missing or empty."""
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None
