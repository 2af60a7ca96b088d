"""The files exchanged with Aleph: the outgoing document of pending requests and Aleph's result documents.

Outgoing (rewritten atomically after every change; Aleph reads it):

    <records>
      <record session_id="...">
        <uuid>...</uuid><doc_number>...</doc_number>
        <urn_nbn>...</urn_nbn> <kramerius_url>...</kramerius_url>      (only when set)
        <document_url format="pdf">https://...</document_url>          (format only when given)
      </record>
    </records>

Incoming (any `*.xml` in the incoming folder; Aleph writes it):

    <results><result session_id="..."><status>OK|ERROR</status><reason>...</reason></result></results>
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from daemons.aleph_link_export.requests import PendingLink
from daemons.common.atomic import write_atomically
from daemons.common.safe_xml import parse_xml, text_of

OUTGOING_NAME = "requests.xml"
STATUSES = ("OK", "ERROR")


class ResultFileError(ValueError):
    """An incoming document is not a valid results document; the text names the file and what is wrong."""


@dataclass(frozen=True)
class LinkResult:
    """Aleph's answer to one request."""

    session_id: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class ResultFile:
    path: Path
    digest: str
    results: list[LinkResult]


def _record(parent: etree._Element, link: PendingLink) -> None:
    record = etree.SubElement(parent, "record", session_id=link.session_id)
    etree.SubElement(record, "uuid").text = link.uuid
    etree.SubElement(record, "doc_number").text = link.doc_number
    if link.urn_nbn:
        etree.SubElement(record, "urn_nbn").text = link.urn_nbn
    if link.kramerius_url:
        etree.SubElement(record, "kramerius_url").text = link.kramerius_url
    for document in link.document_urls:
        element = etree.SubElement(record, "document_url")
        if document.format:
            element.set("format", document.format)
        element.text = document.url


def render_requests(pending: Iterable[PendingLink]) -> bytes:
    root = etree.Element("records")
    for link in pending:
        _record(root, link)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_requests(outgoing_dir: Path, pending: Iterable[PendingLink]) -> Path:
    """Replace `<outgoing_dir>/requests.xml` in one rename, so Aleph never reads half a document."""
    outgoing_dir.mkdir(parents=True, exist_ok=True)
    target = outgoing_dir / OUTGOING_NAME
    write_atomically(target, render_requests(pending), mode=0o644, prefix=".requests-")
    return target


def incoming_files(incoming_dir: Path) -> list[Path]:
    """Aleph's result documents, oldest first; hidden and non-.xml files (e.g. still being written) are left."""
    if not incoming_dir.is_dir():
        return []
    files = [p for p in incoming_dir.iterdir() if p.suffix == ".xml" and not p.name.startswith(".") and p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def _result(path: Path, element: etree._Element) -> LinkResult:
    session_id = element.get("session_id") or text_of(element.find("session_id"))
    if not session_id:
        raise ResultFileError(f"{path}: a <result> has no session_id attribute; Aleph must echo the request's one")
    status = (text_of(element.find("status")) or "").upper()
    if status not in STATUSES:
        raise ResultFileError(f"{path}: result session_id={session_id!r} has status {status!r}; expected OK or ERROR")
    return LinkResult(session_id, status, text_of(element.find("reason")))


def read_results(path: Path) -> ResultFile:
    """Parse one incoming document; ResultFileError names the file and what is wrong with it."""
    data = path.read_bytes()
    try:
        root = parse_xml(data, str(path))
    except ValueError as exc:
        raise ResultFileError(str(exc)) from exc
    if root.tag != "results":
        raise ResultFileError(f"{path}: root element is <{root.tag!s}>, expected <results>")
    results = [_result(path, element) for element in root.iterfind("result")]
    return ResultFile(path, hashlib.sha256(data).hexdigest(), results)
