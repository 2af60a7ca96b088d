"""downloader: HTTP downloads. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

Download = namedtuple("Download", "url")
DownloadedFile = namedtuple("DownloadedFile", "url b64_data")
ProgressDownload = namedtuple("ProgressDownload", "url steps")
Progress = namedtuple("Progress", "url step downloaded content_length")
CheckExistence = namedtuple("CheckExistence", "url")
Exists = namedtuple("Exists", "url result headers")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the HTTP downloads back end is not available in this build")
