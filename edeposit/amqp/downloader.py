"""The old `edeposit.amqp.downloader`: the structures of the downloader daemon, under their old names."""

from __future__ import annotations

from daemons.downloader.handler import (
    CheckExistence,
    Download,
    DownloadedFile,
    Exists,
    Progress,
    ProgressDownload,
)

__all__ = [
    "CheckExistence", "Download", "DownloadedFile", "Exists", "Progress", "ProgressDownload",
]
