"""Follows the ExtendedLog through rotation, truncation and re-creation, handing out complete lines.

States (`TailState`): WAITING_FOR_FILE (no log yet) -> FOLLOWING. A renamed log becomes a *draining*
file: old FTP sessions keep writing to it, so it is read until it has been quiet for `quiet_seconds`,
while the new log is followed at the same time. A log that shrinks or whose first bytes change
(copytruncate, truncation) is read again from its start.

Lines are handed out but not committed: `commit()` records what the broker confirmed, and only
committed offsets are saved, so a restart at any point re-reads (never skips) unconfirmed lines.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ftp_monitor.offsets import FINGERPRINT_BYTES, FilePosition, matches, read_fingerprint

READ_CHUNK = 1 << 20
MAX_LINE_BYTES = 1 << 20
OVERSIZE_HEAD = 200  # bytes of an oversize line kept, for the log


class TailState(enum.Enum):
    WAITING_FOR_FILE = "waiting-for-file"
    FOLLOWING = "following"


@dataclass(frozen=True)
class Line:
    """One complete line (without its newline) and where it lies in its file.

    A line longer than the limit is never held whole: `oversize` is its length and `data` its first bytes.
    """

    source: OpenLog
    data: bytes
    start: int
    end: int
    oversize: int = 0


class OpenLog:
    """One open log file: read position, unfinished last line, committed offset."""

    def __init__(self, fd: int, path: str, offset: int, now: float) -> None:
        info = os.fstat(fd)
        self.fd = fd
        self.path = path
        self.device = info.st_dev
        self.inode = info.st_ino
        self.fingerprint = read_fingerprint(fd)
        self.read_offset = offset  # bytes before this were handed out as complete lines
        self.committed = offset  # bytes before this were confirmed by the broker
        self.partial = b""
        self.skipped = 0  # bytes read of an oversize last line, which is not kept
        self.skipped_head = b""
        self.last_growth = now

    @property
    def key(self) -> tuple[int, int, bytes]:
        return self.device, self.inode, self.fingerprint[:16]

    def position(self) -> FilePosition:
        return FilePosition(self.device, self.inode, self.fingerprint, self.committed, self.path)

    def was_rewritten(self) -> bool:
        """Truncated or replaced in place (copytruncate): shorter than read, or different first bytes."""
        size = os.fstat(self.fd).st_size
        if size < self.read_offset + len(self.partial) + self.skipped:
            return True
        return bool(self.fingerprint) and os.pread(self.fd, len(self.fingerprint), 0) != self.fingerprint

    def restart_from_beginning(self, now: float) -> None:
        self.read_offset = self.committed = 0
        self.partial = b""
        self.skipped, self.skipped_head = 0, b""
        self.fingerprint = read_fingerprint(self.fd)
        self.last_growth = now

    def read_lines(self, budget: int, now: float, max_line: int = MAX_LINE_BYTES) -> list[Line]:
        chunk = os.pread(self.fd, budget, self.read_offset + len(self.partial) + self.skipped)
        if not chunk:
            return []
        self.last_growth = now
        if len(self.fingerprint) < FINGERPRINT_BYTES:
            self.fingerprint = read_fingerprint(self.fd)
        lines: list[Line] = []
        if self.skipped:  # inside an oversize line: look for its end only
            newline = chunk.find(b"\n")
            if newline < 0:
                self.skipped += len(chunk)
                return lines
            length = self.skipped + newline
            lines.append(Line(self, self.skipped_head, self.read_offset, self.read_offset + length + 1, length))
            self.read_offset += length + 1
            self.skipped, self.skipped_head = 0, b""
            chunk = chunk[newline + 1:]
        data = self.partial + chunk if self.partial else chunk
        last_newline = data.rfind(b"\n")
        if last_newline < 0:
            self._hold(data, max_line)
            return lines
        position = self.read_offset
        for raw in data[:last_newline].split(b"\n"):
            end = position + len(raw) + 1
            if len(raw) > max_line:
                lines.append(Line(self, raw[:OVERSIZE_HEAD], position, end, len(raw)))
            else:
                lines.append(Line(self, raw, position, end))
            position = end
        self.read_offset = position
        self._hold(data[last_newline + 1:], max_line)
        return lines

    def _hold(self, unfinished: bytes, max_line: int) -> None:
        """Keep the unfinished last line, or only its head once it is longer than any line may be."""
        if len(unfinished) > max_line:
            self.partial, self.skipped, self.skipped_head = b"", len(unfinished), unfinished[:OVERSIZE_HEAD]
        else:
            self.partial = unfinished

    def take_partial(self) -> list[Line]:
        """The unfinished last line as a line of its own: used when a file will not grow any more."""
        if self.skipped:
            line = Line(self, self.skipped_head, self.read_offset, self.read_offset + self.skipped, self.skipped)
            self.skipped, self.skipped_head = 0, b""
        elif self.partial:
            line = Line(self, self.partial, self.read_offset, self.read_offset + len(self.partial))
            self.partial = b""
        else:
            return []
        self.read_offset = line.end
        return [line]

    def close(self) -> None:
        os.close(self.fd)


class LogTailer:
    """Hands out new complete lines of `path`, oldest (draining) files first."""

    def __init__(self, path: Path, saved: list[FilePosition] | None, quiet_seconds: float = 60.0,
                 start_at_end: bool = False, log: logging.Logger | None = None,
                 clock: Callable[[], float] = time.monotonic, max_line: int = MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self.max_line = max_line
        self.quiet_seconds = quiet_seconds
        self.log = log or logging.getLogger("edeposit.ftp_monitor")
        self.clock = clock
        self.state = TailState.WAITING_FOR_FILE
        self.current: OpenLog | None = None
        self.draining: list[OpenLog] = []
        self._unreadable: set[Path] = set()
        self._resume(saved, start_at_end)

    # -- start-up ----------------------------------------------------------------------------------
    def _resume(self, saved: list[FilePosition] | None, start_at_end: bool) -> None:
        now = self.clock()
        if saved is None:
            fd = self._open(self.path)
            if fd is not None:
                offset = os.fstat(fd).st_size if start_at_end else 0
                self._follow(OpenLog(fd, str(self.path), offset, now))
            return
        for position in saved:
            fd = self._find(position)
            if fd is None:
                self.log.warning("log file %s (inode %d) is gone; records after offset %d in it were not read",
                                 position.path, position.inode, position.offset)
                continue
            size = os.fstat(fd).st_size
            offset = position.offset if position.offset <= size else 0
            opened = OpenLog(fd, position.path, offset, now)
            if self.current is None and self._is_at_path(opened):
                self._follow(opened)
            else:
                self.log.info("draining rotated log %s (inode %d) from offset %d", position.path, opened.inode, offset)
                self.draining.append(opened)
        if self.current is None:
            fd = self._open(self.path)
            if fd is not None:
                self._follow(OpenLog(fd, str(self.path), 0, now))

    def _find(self, position: FilePosition) -> int | None:
        """Open the file `position` describes: at its last path, at the log path, or renamed in the same folder."""
        candidates = [Path(position.path), self.path]
        try:
            candidates += sorted(p for p in self.path.parent.iterdir() if p.is_file())
        except OSError:
            pass
        for candidate in candidates:
            fd = self._open(candidate)
            if fd is None:
                continue
            if matches(fd, position):
                return fd
            os.close(fd)
        return None

    def _open(self, path: Path) -> int | None:
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except PermissionError:
            if path not in self._unreadable:
                self._unreadable.add(path)
                self.log.error("cannot read %s: permission denied; run ftp_monitor as a user that may read it", path)
            return None

    def _is_at_path(self, opened: OpenLog) -> bool:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (info.st_dev, info.st_ino) == (opened.device, opened.inode)

    def _follow(self, opened: OpenLog) -> None:
        opened.path = str(self.path)
        self.current = opened
        if self.state is not TailState.FOLLOWING:
            self.log.info("state %s -> %s (%s, offset %d)", self.state.value, TailState.FOLLOWING.value,
                          self.path, opened.read_offset)
        self.state = TailState.FOLLOWING

    # -- following ---------------------------------------------------------------------------------
    def poll(self, budget: int = READ_CHUNK) -> list[Line]:
        """New complete lines, at most about `budget` bytes; checks for rotation first."""
        now = self.clock()
        self._check_current(now)
        lines: list[Line] = []
        for draining in list(self.draining):
            lines += draining.read_lines(budget, now, self.max_line)
            if not lines and now - draining.last_growth >= self.quiet_seconds:
                lines += draining.take_partial()
                self._retire_if_done(draining)
            if lines:
                return lines
        if self.current is not None:
            if self.current.was_rewritten():
                self.log.warning("log %s was truncated or rewritten in place; reading it again from the start",
                                 self.path)
                self.current.restart_from_beginning(now)
            lines += self.current.read_lines(budget, now, self.max_line)
        return lines

    def _check_current(self, now: float) -> None:
        """Notice rotation (a different file at the path), deletion and a log that appeared."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None
        current = self.current
        if current is not None and (info is None or (info.st_dev, info.st_ino) != (current.device, current.inode)):
            self.log.info("log %s was rotated or removed; draining the old file (inode %d) until quiet",
                          self.path, current.inode)
            current.last_growth = now
            self.draining.append(current)
            self.current = None
            self.state = TailState.WAITING_FOR_FILE
        if self.current is None and info is not None:
            fd = self._open(self.path)
            if fd is not None:
                self._follow(OpenLog(fd, str(self.path), 0, now))

    def _retire_if_done(self, draining: OpenLog) -> None:
        if draining.committed >= draining.read_offset and not draining.partial and not draining.skipped:
            self.log.info("rotated log (inode %d) quiet for %.0f s; done with it", draining.inode, self.quiet_seconds)
            self.draining.remove(draining)
            draining.close()

    def commit(self, lines: list[Line]) -> None:
        """The broker confirmed everything these lines produced."""
        for line in lines:
            if line.end > line.source.committed:
                line.source.committed = line.end

    def positions(self) -> list[FilePosition]:
        opened = [*self.draining, *([self.current] if self.current else [])]
        return [log.position() for log in opened]

    def close(self) -> None:
        for opened in [*self.draining, *([self.current] if self.current else [])]:
            opened.close()
        self.draining = []
        self.current = None
