"""The one XML parser for documents from outside: Aleph answers, clients' MARC, feeds, result files.

Documents come from the network or from folders others write to, so the parser never resolves
entities, never loads a DTD and never touches the network, and a document that declares any DOCTYPE is
refused outright, which also rules out entity-expansion bombs. One policy for every daemon.
"""

from __future__ import annotations

import threading

from lxml import etree

_local = threading.local()


class UnsafeXMLError(ValueError):
    """The document declares a DOCTYPE (a place for external or recursive entities); it is not read."""


class BadXMLError(ValueError):
    """The text is not well-formed XML."""


def safe_parser() -> etree.XMLParser:
    """This thread's parser (lxml parsers must not be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
            remove_comments=True, remove_pis=True,
        )
        _local.parser = parser
    return parser


def parse_xml(data: str | bytes, what: str = "XML document") -> etree._Element:
    """The root element of `data`; BadXMLError or UnsafeXMLError naming `what` when it cannot be read."""
    if isinstance(data, str):
        data = data.encode("utf-8") if not data.lstrip().startswith("<?xml") else _drop_declaration(data)
    if not data or not data.strip():
        raise BadXMLError(f"{what} is empty: send the XML text")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise BadXMLError(f"{what} is not well-formed XML: {exc}") from None
    if root is None:
        raise BadXMLError(f"{what} is empty: send the XML text")
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        raise UnsafeXMLError(
            f"{what} declares a DOCTYPE ({doctype!r}); DTDs and entities are refused for safety: "
            f"send the document without its <!DOCTYPE ...> declaration"
        )
    return root


def _drop_declaration(text: str) -> bytes:
    """lxml refuses str input with an encoding declaration; the text is already decoded, so re-encode it."""
    end = text.find("?>")
    return text[end + 2:].encode("utf-8") if end != -1 else text.encode("utf-8")


def to_text(element: etree._Element, declaration: bool = True) -> str:
    """`element` serialized as pretty-printed UTF-8 text."""
    body = etree.tostring(element, encoding="unicode", pretty_print=True)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body) if declaration else body


def text_of(element: etree._Element | None) -> str | None:
    """The element's whole text, stripped, or None when it is missing or empty."""
    if element is None:
        return None
    text = "".join(str(part) for part in element.itertext()).strip()
    return text or None
