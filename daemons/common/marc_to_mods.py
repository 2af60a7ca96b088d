"""MARC XML (MARC21 slim or Aleph's OAI-MARC) to MODS documents, by our own mapping or a site's XSLT."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from daemons.common.marc import parse_records
from daemons.common.mods import MODS_NS, marc_to_mods
from daemons.common.safe_xml import parse_xml, to_text


class StylesheetError(ValueError):
    """The configured XSLT cannot be read or fails on the record."""


def convert(marc_xml: str | bytes, uuid: str | None = None, url: str | None = None,
            urn_nbn: str | None = None) -> list[str]:
    """One MODS document (text) per record in `marc_xml`."""
    return [to_text(marc_to_mods(record, uuid, url, urn_nbn)) for record in parse_records(marc_xml, "marc_xml")]


class SiteStylesheet:
    """A site's own XSLT, applied with the parameters `uuid` and `url`; it may read local files only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            document = parse_xml(self.path.read_bytes(), f"XSLT {self.path}")
        except OSError as exc:
            raise StylesheetError(f"marcxml2mods option xslt = {str(self.path)!r} cannot be read: {exc.strerror}; "
                                  f"fix the path or remove the option to use the built-in mapping") from None
        access = etree.XSLTAccessControl(read_file=True, write_file=False, create_dir=False, read_network=False,
                                         write_network=False)
        try:
            self.transform = etree.XSLT(document, access_control=access)
        except etree.XSLTParseError as exc:
            raise StylesheetError(f"marcxml2mods option xslt = {str(self.path)!r} is not a valid XSLT: {exc}") from None

    def convert(self, marc_xml: str | bytes, uuid: str | None = None, url: str | None = None) -> list[str]:
        source = parse_xml(marc_xml, "marc_xml")
        try:
            result = self.transform(source, uuid=etree.XSLT.strparam(uuid or ""), url=etree.XSLT.strparam(url or ""))
        except etree.XSLTApplyError as exc:
            raise StylesheetError(f"XSLT {self.path} failed on the record: {exc}") from None
        root = result.getroot()
        if root is None:
            raise StylesheetError(f"XSLT {self.path} produced no XML document")
        if etree.QName(root).localname == "modsCollection":
            return [to_text(mods) for mods in root.iterchildren(f"{{{MODS_NS}}}mods")]
        return [to_text(root)]
