"""Unpacks a ZIP archive safely: nothing lands outside the target directory and size limits hold.

Refused: absolute names, `..` components, symbolic links, encrypted members, the same name twice, more
than `max_files` members and more than `max_bytes` unpacked (counted while writing, so a ZIP bomb that
lies in its headers is stopped as well). The archive is unpacked into a temporary directory beside the
target and renamed into place only when complete.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from daemons.storage.files import TEMP_PREFIX

COPY_CHUNK = 1024 * 1024
DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")


class UnsafeArchiveError(ValueError):
    """The archive is not a ZIP, or unpacking it would break a rule above."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int
    max_files: int


def member_path(name: str) -> PurePosixPath | None:
    """The relative path a member may be written to; None for the archive's root directory entry."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or DRIVE_PATTERN.match(cleaned):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path; archives must hold relative paths")
    parts = [part for part in cleaned.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r} points outside the archive ('..'); remove that member")
    return PurePosixPath(*parts) if parts else None


def check_member(info: zipfile.ZipInfo) -> None:
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeArchiveError(f"archive member {info.filename!r} is a symbolic link; store the file itself instead")
    if info.flag_bits & 0x1:
        raise UnsafeArchiveError(f"archive member {info.filename!r} is encrypted; send an archive without a password")


def open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnsafeArchiveError(f"Archive.b64_data is not a ZIP archive ({exc}); send the archive as a .zip file"
                                 ) from None


def plan(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Every member with its target path, after the checks that need no unpacking."""
    members = archive.infolist()
    if len(members) > limits.max_files:
        raise UnsafeArchiveError(f"the archive has {len(members)} members, more than max_archive_files = "
                                 f"{limits.max_files}; raise max_archive_files in the storage [[[options]]]")
    declared = sum(info.file_size for info in members)
    if declared > limits.max_bytes:
        raise UnsafeArchiveError(f"the archive unpacks to {declared} bytes, more than max_archive_bytes = "
                                 f"{limits.max_bytes}; raise max_archive_bytes in the storage [[[options]]]")
    seen: set[PurePosixPath] = set()
    planned = []
    for info in members:
        check_member(info)
        target = member_path(info.filename)
        if target is None:
            continue
        if target in seen and not info.is_dir():
            raise UnsafeArchiveError(f"archive member {info.filename!r} appears twice; keep one copy")
        seen.add(target)
        planned.append((info, target))
    return planned


def extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, budget: int) -> int:
    """Write one file member; the bytes written, never more than `budget`."""
    written = 0
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(destination, "xb") as target:
            while chunk := source.read(COPY_CHUNK):
                written += len(chunk)
                if written > budget:
                    raise UnsafeArchiveError(f"archive member {info.filename!r} unpacks to more than its share of "
                                             f"max_archive_bytes; raise max_archive_bytes in the storage [[[options]]]")
                target.write(chunk)
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise UnsafeArchiveError(f"archive member {info.filename!r} cannot be read: {exc}") from None
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise UnsafeArchiveError(f"archive member {info.filename!r} clashes with another member of that path"
                                 ) from None
    return written


def unpack(data: bytes, target: Path, limits: ArchiveLimits) -> None:
    """Unpack the ZIP in `data` into the new directory `target` (which must not exist yet)."""
    with open_zip(data) as archive:
        planned = plan(archive, limits)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
        try:
            remaining = limits.max_bytes
            root = temp.resolve()
            for info, relative in planned:
                destination = temp.joinpath(*relative.parts)
                if not destination.resolve().is_relative_to(root):
                    raise UnsafeArchiveError(f"archive member {info.filename!r} points outside the archive")
                if info.is_dir():
                    try:
                        destination.mkdir(parents=True, exist_ok=True)
                    except (FileExistsError, NotADirectoryError):
                        raise UnsafeArchiveError(f"archive member {info.filename!r} clashes with a file") from None
                    continue
                remaining -= extract_member(archive, info, destination, remaining)
            os.chmod(temp, 0o755)
            os.replace(temp, target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
