"""ltp: preservation export. Each ExportRequest becomes a package (original file, MODS, MD5 manifest,
info.xml) in `export_dir`, where the long-term preservation system picks it up; TrackingRequest reads the
status markers that system leaves there.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections import namedtuple
from pathlib import Path
from typing import Any

from daemons.common.isbn import extract_isbn
from daemons.common.marc import MarcRecord, clean, parse_records
from daemons.common.marc_to_mods import convert
from daemons.ltp.names import data_file_name, package_id
from daemons.ltp.package import PackageContent, write_package
from daemons.ltp.tracking import clear_markers, package_status
from daemons.rpc.handler import HandlerContext

ExportRequest = namedtuple("ExportRequest", "aleph_record book_uuid urn_nbn url filename b64_data")
TrackingRequest = namedtuple("TrackingRequest", "book_uuid")
TrackingResponse = namedtuple("TrackingResponse", "book_id exported error")

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    ExportRequest, TrackingRequest, TrackingResponse
)

OPTIONS_SPEC = """
export_dir = string(default=None)
creator = string(min=1, default='edeposit')
"""


class BackendUnavailable(RuntimeError):
    """The export folder cannot be used."""


_settings: dict[str, Any] = {"export_dir": None, "creator": "edeposit"}


def configure(context: HandlerContext) -> None:
    export_dir = context.options.get("export_dir") or context.data_dir / "export"
    _settings.update(export_dir=Path(export_dir), creator=context.options.get("creator") or "edeposit")


def _export_dir() -> Path:
    export_dir = _settings["export_dir"]
    if export_dir is None:
        raise BackendUnavailable("ltp is not configured: run it as a daemon, or call configure(context) first")
    return export_dir


def health() -> str | None:
    """A note for `status` when the export folder cannot be created or written."""
    export_dir = _export_dir()
    try:
        export_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"ltp: export_dir {export_dir} cannot be created ({exc.strerror}): fix the ltp `export_dir` option"
    if not os.access(export_dir, os.W_OK | os.X_OK):
        return f"ltp: export_dir {export_dir} is not writable by this user: fix its permissions or `export_dir`"
    return None


def _text_field(message: ExportRequest, name: str, required: bool) -> str:
    value = getattr(message, name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"ExportRequest.{name} must be a non-empty string, got {value!r}")
    return value


def _decode(b64_data: object) -> bytes:
    if not isinstance(b64_data, str):
        raise ValueError(f"ExportRequest.b64_data must be base64 text, got {type(b64_data).__name__}")
    try:
        return base64.b64decode(b64_data, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"ExportRequest.b64_data is not valid base64 ({exc}); send the file base64-encoded") from None


def title_ids(record: MarcRecord, book_uuid: str, urn_nbn: str) -> list[tuple[str, str]]:
    """Every identifier of the title that info.xml lists, as (type, value)."""
    ids = [("uuid", book_uuid)] + ([("urnnbn", urn_nbn)] if urn_nbn else [])
    ids += [("isbn", extract_isbn(v)) for v in record.values("020", "a")]
    ids += [("ccnb", clean(v)) for v in record.values("015", "a")]
    return ids


def export(message: ExportRequest) -> bool:
    """Check every input first, then build the package; nothing is left behind when anything fails."""
    book_id = package_id(message.book_uuid)
    name = data_file_name(message.filename)
    marc_xml = _text_field(message, "aleph_record", required=True)
    urn_nbn, url = _text_field(message, "urn_nbn", False), _text_field(message, "url", False)
    data = _decode(message.b64_data)
    record = parse_records(marc_xml, "ExportRequest.aleph_record")[0]
    content = PackageContent(
        package_id=book_id, data_name=name, data=data, marc_xml=marc_xml, creator=_settings["creator"],
        mods_files=convert(marc_xml, uuid=book_id, url=url or None, urn_nbn=urn_nbn or None),
        title=clean(record.first("245", "a")), title_ids=title_ids(record, book_id, urn_nbn),
    )
    export_dir = _export_dir()
    clear_markers(export_dir, book_id)
    write_package(export_dir, content)
    return True


def track(message: TrackingRequest) -> TrackingResponse:
    """The preservation system's verdict on the book's package, read from its markers."""
    book_id = package_id(message.book_uuid)
    status = package_status(_export_dir(), book_id)
    return TrackingResponse(book_id, status.exported, status.error)


def react(message: Any, send_back: Any) -> Any:
    """Answer one ExportRequest or TrackingRequest."""
    if isinstance(message, ExportRequest):
        return export(message)
    if isinstance(message, TrackingRequest):
        return track(message)
    raise TypeError(f"ltp cannot handle {type(message).__name__}; send ExportRequest or TrackingRequest")
