"""What ftp_monitor publishes: the old import structures and the opt-in per-file events.

`ImportRequest` and its parts keep the field names old consumers read. `EPublication` is the parsed form
of a metadata file (`MetadataFile.parsed_data`), with the fields the aleph daemon uses for it.
"""

from __future__ import annotations

from collections import namedtuple

from daemons.common.epublication import EPublication  # noqa: F401 - part of what ftp_monitor publishes

ImportRequest = namedtuple("ImportRequest", "username requests import_log error_log")
EbookFile = namedtuple("EbookFile", "filename b64_data")
MetadataFile = namedtuple("MetadataFile", "filename b64_data parsed_data")
DataPair = namedtuple("DataPair", "metadata_file ebook_file")


# One file event (opt-in). `event` is one of EVENT_KINDS; `new_path` is set for "renamed" only;
# `size` is the bytes transferred for uploads; `timestamp` is the record's time (ISO 8601 with zone, or
# epoch seconds as text for the legacy format); fields the log format does not carry are None.
FileEvent = namedtuple(
    "FileEvent",
    "event username path new_path size session_pid client_address protocol timestamp status",
)

EVENT_KINDS = ("uploaded", "upload_aborted", "upload_failed", "deleted", "renamed")
