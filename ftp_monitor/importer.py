"""An import of one user's home: build the `ImportRequest`, and once the broker confirmed it, clean up.

`prepare_import` only reads; `finish_import` (called after the confirm) removes the imported files,
writes `import.log.txt` / `error.log.txt` for the user and recreates the lock file. A file that changed
after it was read is never removed, so an upload that raced the import is kept for the next one.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemons.ftp_manager.homes import LOCK_FILE_TEXT
from ftp_monitor.homefiles import write_user_file
from ftp_monitor.metadata import MetadataError, parse_metadata
from ftp_monitor.pairing import PairingRules, Planned, plan_import
from ftp_monitor.structures import DataPair, EbookFile, ImportRequest, MetadataFile

IMPORT_LOG = "import.log.txt"
ERROR_LOG = "error.log.txt"


@dataclass(frozen=True)
class ImportSettings:
    """The switches of one import (global options AND-ed with the user's own flags)."""

    rules: PairingRules = PairingRules()
    create_import_log: bool = True
    leave_bad_files: bool = True
    max_file_bytes: int = 64 * 1024 * 1024
    # Base64 bytes of all files in one ImportRequest; must stay below the broker's max_message_size.
    max_import_bytes: int = 100 * 1024 * 1024
    lock_filename: str = "delete_me_to_import_files.txt"


@dataclass(frozen=True)
class SeenFile:
    """A file as it was read; removed later only if it is still exactly this file."""

    path: Path
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> SeenFile:
        info = path.lstat()
        return cls(path, info.st_ino, info.st_size, info.st_mtime_ns)

    def unchanged(self) -> bool:
        try:
            return SeenFile.of(self.path) == self
        except FileNotFoundError:
            return False


@dataclass
class PreparedImport:
    username: str
    home: Path
    settings: ImportSettings
    request: Any
    remove: list[SeenFile] = field(default_factory=list)
    import_lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def collect_files(home: Path, reserved: set[str]) -> dict[Path, list[Path]]:
    """Regular files of the home tree by directory; symlinks and the monitor's own files are left out."""
    found: dict[Path, list[Path]] = {}
    for root, dirs, files in os.walk(home, followlinks=False):
        directory = Path(root)
        dirs[:] = [d for d in dirs if not (directory / d).is_symlink()]
        regular = [directory / f for f in files if (directory / f).is_file() and not (directory / f).is_symlink()]
        if directory == home:
            regular = [p for p in regular if p.name not in reserved]
        if regular:
            found[directory] = regular
    return found


class _Reader:
    """Reads files once each, enforcing the size limit and noting what was read."""

    def __init__(self, home: Path, max_bytes: int, errors: list[str]) -> None:
        self.home = home
        self.max_bytes = max_bytes
        self.errors = errors
        self.seen: dict[Path, SeenFile] = {}

    def name(self, path: Path) -> str:
        return str(path.relative_to(self.home))

    def read(self, path: Path) -> bytes | None:
        try:
            seen = SeenFile.of(path)
            if seen.size > self.max_bytes:
                self.errors.append(f"File '{self.name(path)}' has {seen.size} bytes, more than the limit of "
                                   f"{self.max_bytes}; it was not imported. Send it another way or ask for a "
                                   f"higher limit (max_file_bytes).")
                return None
            data = path.read_bytes()
        except OSError as exc:
            self.errors.append(f"Can't read file '{self.name(path)}' ({exc.strerror}); it was not imported.")
            return None
        self.seen[path] = SeenFile(path, seen.inode, len(data), seen.mtime_ns)
        return data

    def ebook(self, path: Path) -> Any:
        data = self.read(path)
        return None if data is None else EbookFile(self.name(path), base64.b64encode(data).decode("ascii"))

    def metadata(self, path: Path) -> tuple[Any, bool]:
        """(MetadataFile or None, whether the file is bad)."""
        data = self.read(path)
        if data is None:
            return None, False
        try:
            parsed = parse_metadata(path.name, data)
        except MetadataError as exc:
            self.errors.append(f"Can't read metadata file '{self.name(path)}': {exc}")
            return None, True
        return MetadataFile(self.name(path), base64.b64encode(data).decode("ascii"), parsed), False


def _build_item(item: Planned, reader: _Reader, imported: list[Path], bad: list[Path], lines: list[str]) -> Any:
    metadata, metadata_bad = (None, False) if item.metadata is None else reader.metadata(item.metadata)
    ebook = None if item.ebook is None else reader.ebook(item.ebook)
    if metadata_bad:
        bad.append(item.metadata)  # type: ignore[arg-type]
    if metadata is not None and ebook is not None:
        imported += [item.metadata, item.ebook]  # type: ignore[list-item]
        lines.append(f"Metadata file '{metadata.filename}' and ebook file '{ebook.filename}' imported as a pair.")
        return DataPair(metadata, ebook)
    if metadata is not None:
        imported.append(item.metadata)  # type: ignore[arg-type]
        lines.append(f"Metadata file '{metadata.filename}' imported.")
        return metadata
    if ebook is not None:
        imported.append(item.ebook)  # type: ignore[arg-type]
        lines.append(f"Ebook file '{ebook.filename}' imported.")
        return ebook
    return None


def prepare_import(username: str, home: Path, settings: ImportSettings) -> PreparedImport:
    """Read the user's files into an ImportRequest; nothing on disk changes yet."""
    errors: list[str] = []
    reserved = {settings.lock_filename, IMPORT_LOG, ERROR_LOG}
    plan = plan_import(collect_files(home, reserved), settings.rules, home)
    errors += plan.errors
    reader = _Reader(home, settings.max_file_bytes, errors)
    imported: list[Path] = []
    bad: list[Path] = []
    lines: list[str] = []
    requests = []
    deferred: list[Planned] = []
    used = 0
    for item in plan.items:
        size = _encoded_size(item, settings.max_file_bytes)
        if size > settings.max_import_bytes:
            names = ", ".join(f"'{reader.name(p)}'" for p in item.paths)
            errors.append(f"{names}: {size} bytes once encoded, more than one import can carry "
                          f"(max_import_bytes = {settings.max_import_bytes}); not imported. Send it another way.")
            continue
        if used + size > settings.max_import_bytes:
            deferred.append(item)
            continue
        used += size
        built = _build_item(item, reader, imported, bad, lines)
        if built is not None:
            requests.append(built)
    if deferred:
        names = ", ".join(f"'{reader.name(p)}'" for item in deferred for p in item.paths)
        errors.append(f"These files did not fit into this import (max_import_bytes = {settings.max_import_bytes}) "
                      f"and stay in place: {names}. Delete the lock file again to import them.")
    doomed = imported + ([] if settings.leave_bad_files else bad)
    request = ImportRequest(
        username=username,
        requests=requests,
        import_log=_import_log_text(lines, errors),
        error_log="\n".join(errors),
    )
    prepared = PreparedImport(username, home, settings, request, [reader.seen[p] for p in doomed], lines, errors)
    return prepared


def _encoded_size(item: Planned, max_file_bytes: int) -> int:
    """Bytes the item's files take in base64 (files over the per-file limit are not sent)."""
    total = 0
    for path in item.paths:
        try:
            size = path.lstat().st_size
        except OSError:
            continue
        if size <= max_file_bytes:
            total += 4 * ((size + 2) // 3)
    return total


def _import_log_text(lines: list[str], errors: list[str]) -> str:
    if errors:
        head = [f"Error: import only partially successful; see '{ERROR_LOG}'.", "", "--- Errors ---", *errors, "",
                "--- Successfully imported files ---"]
    else:
        head = ["--- Success ---"]
    return "\n".join([*head, *lines]) + "\n"


def finish_import(prepared: PreparedImport, log: logging.Logger | None = None) -> None:
    """After the broker confirmed the ImportRequest: remove, write the user's logs, recreate the lock."""
    log = log or logging.getLogger("edeposit.ftp_monitor")
    home = prepared.home
    for seen in prepared.remove:
        if seen.unchanged() and seen.path.resolve().is_relative_to(home.resolve()):
            seen.path.unlink()
        else:
            log.warning("%s changed after it was read for the import; left in place for the next import", seen.path)
    _remove_empty_directories(home)
    owner = home.stat()
    writes = []
    if prepared.import_lines and prepared.settings.create_import_log:
        writes.append((home / IMPORT_LOG, prepared.request.import_log))
    if prepared.errors:
        writes.append((home / ERROR_LOG, prepared.request.error_log + "\n"))
    else:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            (home / ERROR_LOG).unlink()
    writes.append((home / prepared.settings.lock_filename, LOCK_FILE_TEXT))
    for path, text in writes:
        try:
            write_user_file(path, text.encode("utf-8"), owner.st_uid, owner.st_gid)
        except OSError as exc:
            log.error("cannot write %s for %s (%s); remove whatever is in its place", path, prepared.username, exc)


def abandon_import(prepared: PreparedImport, why: str, log: logging.Logger | None = None) -> None:
    """The ImportRequest could not be delivered: every file stays, the user learns why, and the lock file is
    back so that deleting it again tries again."""
    log = log or logging.getLogger("edeposit.ftp_monitor")
    log.error("import for %s was not delivered (%s); its files stay in %s", prepared.username, why, prepared.home)
    owner = prepared.home.stat()
    text = f"Import failed: the import could not be delivered ({why}). Nothing was imported; delete the lock file " \
           f"again to try again.\n"
    for path, data in ((prepared.home / ERROR_LOG, text), (prepared.home / prepared.settings.lock_filename,
                                                           LOCK_FILE_TEXT)):
        try:
            write_user_file(path, data.encode("utf-8"), owner.st_uid, owner.st_gid)
        except OSError as exc:
            log.error("cannot write %s for %s (%s); remove whatever is in its place", path, prepared.username, exc)


def _remove_empty_directories(home: Path) -> None:
    for root, dirs, _ in os.walk(home, topdown=False, followlinks=False):
        for name in dirs:
            path = Path(root) / name
            if not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.rmdir()  # only succeeds when empty
