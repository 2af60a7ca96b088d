"""The package's `info.xml` (after the Czech national digital library's info format): what the package
is, which title it holds, who made it, how big it is, what it contains and the manifest's checksum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from daemons.common.safe_xml import to_text

METADATA_VERSION = "1.0"
COLLECTION = "edeposit"


@dataclass
class PackageInfo:
    package_id: str
    creator: str
    items: list[str]
    size_bytes: int
    manifest_name: str
    manifest_md5: str
    title: str = ""
    title_ids: list[tuple[str, str]] = field(default_factory=list)  # (type, value): uuid, urnnbn, isbn, ccnb
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


def info_xml(info: PackageInfo) -> str:
    """info.xml text; `size` is in kilobytes (rounded up), item paths start at the package root."""
    root = etree.Element("info")
    etree.SubElement(root, "created").text = info.created.strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(root, "metadataversion").text = METADATA_VERSION
    etree.SubElement(root, "packageid").text = info.package_id
    for kind, value in info.title_ids:
        etree.SubElement(root, "titleid", type=kind).text = value
    if info.title:
        etree.SubElement(root, "title").text = info.title
    etree.SubElement(root, "collection").text = COLLECTION
    etree.SubElement(root, "creator").text = info.creator
    etree.SubElement(root, "size").text = str(math.ceil(info.size_bytes / 1024))
    items = etree.SubElement(root, "itemlist", itemtotal=str(len(info.items)))
    for item in info.items:
        etree.SubElement(items, "item").text = "/" + item
    etree.SubElement(root, "checksum", type="MD5", checksum=info.manifest_md5).text = "/" + info.manifest_name
    return to_text(root)
