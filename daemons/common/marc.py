"""One MARC record in memory, read from MARC21 slim XML or from Aleph's OAI-MARC.

Both formats carry the same content (leader, control fields, data fields with indicators and
subfields); the rest of the code reads records only through `MarcRecord`, whatever format they came in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from daemons.common.safe_xml import BadXMLError, parse_xml

MARC_NS = "http://www.loc.gov/MARC21/slim"
# Aleph's fixed fields that are not control fields of MARC 21 but behave like them.
_LEADER_IDS = {"LDR", "leader"}


@dataclass
class DataField:
    tag: str
    ind1: str = " "
    ind2: str = " "
    subfields: list[tuple[str, str]] = field(default_factory=list)

    def values(self, code: str) -> list[str]:
        return [value for label, value in self.subfields if label == code]

    def first(self, code: str) -> str | None:
        for label, value in self.subfields:
            if label == code:
                return value
        return None


@dataclass
class MarcRecord:
    leader: str = ""
    control: dict[str, str] = field(default_factory=dict)
    fields: list[DataField] = field(default_factory=list)

    def datafields(self, *tags: str) -> Iterator[DataField]:
        return (f for f in self.fields if f.tag in tags)

    def values(self, tag: str, code: str) -> list[str]:
        """Every `code` subfield of every `tag` field, in record order."""
        return [value for f in self.datafields(tag) for value in f.values(code)]

    def first(self, tag: str, code: str) -> str | None:
        for f in self.datafields(tag):
            value = f.first(code)
            if value is not None:
                return value
        return None

    def has(self, tag: str) -> bool:
        return tag in self.control or any(True for _ in self.datafields(tag))


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(element: etree._Element) -> str:
    return element.text or ""


def from_oai_marc(element: etree._Element) -> MarcRecord:
    """`<oai_marc>` with `<fixfield id=..>` and `<varfield id=.. i1=.. i2=..><subfield label=..>`."""
    record = MarcRecord()
    for child in element:
        name = _local(child.tag)
        if name == "fixfield":
            tag = child.get("id", "")
            if tag in _LEADER_IDS:
                record.leader = _text(child)
            else:
                record.control[tag] = _text(child)
        elif name == "varfield":
            record.fields.append(DataField(
                tag=child.get("id", ""), ind1=child.get("i1", " ") or " ", ind2=child.get("i2", " ") or " ",
                subfields=[(sub.get("label", ""), _text(sub)) for sub in child if _local(sub.tag) == "subfield"],
            ))
    return record


def from_marcxml(element: etree._Element) -> MarcRecord:
    """`<record>` of MARC21 slim (with or without its namespace)."""
    record = MarcRecord()
    for child in element:
        name = _local(child.tag)
        if name == "leader":
            record.leader = _text(child)
        elif name == "controlfield":
            record.control[child.get("tag", "")] = _text(child)
        elif name == "datafield":
            record.fields.append(DataField(
                tag=child.get("tag", ""), ind1=child.get("ind1", " ") or " ", ind2=child.get("ind2", " ") or " ",
                subfields=[(sub.get("code", ""), _text(sub)) for sub in child if _local(sub.tag) == "subfield"],
            ))
    return record


def _is_marcxml_record(element: etree._Element) -> bool:
    if _local(element.tag) != "record":
        return False
    namespace = etree.QName(element).namespace
    return namespace == MARC_NS or (namespace is None and any(
        _local(child.tag) in ("datafield", "controlfield", "leader") for child in element))


def record_elements(root: etree._Element) -> list[tuple[str, etree._Element]]:
    """("oai_marc" | "marcxml", element) for every record in a document (also when wrapped, e.g. in
    OAI-PMH or an X-Services answer), in document order."""
    found = []
    for element in root.iter():
        if _local(element.tag) == "oai_marc":
            found.append(("oai_marc", element))
        elif _is_marcxml_record(element):
            found.append(("marcxml", element))
    return found


def parse_records(data: str | bytes | etree._Element, what: str = "MARC XML") -> list[MarcRecord]:
    """Every record of a MARC21 slim or OAI-MARC document; BadXMLError when it holds none."""
    root = data if isinstance(data, etree._Element) else parse_xml(data, what)
    elements = record_elements(root)
    if not elements:
        raise BadXMLError(
            f"{what} holds no MARC record: expected MARC21 slim <record>/<collection> "
            f"(namespace {MARC_NS}) or Aleph OAI-MARC <oai_marc>, got <{_local(root.tag)}>"
        )
    return [from_oai_marc(e) if kind == "oai_marc" else from_marcxml(e) for kind, e in elements]


def to_marcxml(record: MarcRecord) -> etree._Element:
    """The record as a MARC21 slim `<record>` (Aleph's alphabetic tags are kept as they are)."""
    root = etree.Element(f"{{{MARC_NS}}}record", nsmap={None: MARC_NS})
    if record.leader:
        etree.SubElement(root, f"{{{MARC_NS}}}leader").text = record.leader
    for tag, value in record.control.items():
        etree.SubElement(root, f"{{{MARC_NS}}}controlfield", tag=tag).text = value
    for f in record.fields:
        element = etree.SubElement(root, f"{{{MARC_NS}}}datafield", tag=f.tag, ind1=f.ind1, ind2=f.ind2)
        for code, value in f.subfields:
            etree.SubElement(element, f"{{{MARC_NS}}}subfield", code=code).text = value
    return root


def clean(value: str | None) -> str:
    """A subfield without ISBD punctuation around it ("Brno :" -> "Brno", "Návrat," -> "Návrat")."""
    return (value or "").strip(" \t\r\n/:;,=+")


def clean_end(value: str | None) -> str:
    """Like `clean`, also dropping a closing full stop ("Nezkrác. vyd." keeps its inner one)."""
    text = clean(value)
    return text[:-1].rstrip() if text.endswith(".") and not text.endswith("..") else text
