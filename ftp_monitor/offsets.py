"""The monitor's saved position: which log files (by identity) were read up to which byte.

A file is known by its device, inode and a fingerprint of its first bytes, so a new file that reuses
an old inode is not mistaken for the old one. The state is written atomically (temp file, fsync,
rename) and only after the broker confirmed every message before the saved offsets.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from daemons.common.atomic import write_atomically

FINGERPRINT_BYTES = 128
STATE_VERSION = 1


@dataclass(frozen=True)
class FilePosition:
    """How far one log file was read; `path` is where it was last seen (it may have been renamed since)."""

    device: int
    inode: int
    fingerprint: bytes
    offset: int
    path: str


@dataclass
class MonitorState:
    files: list[FilePosition] = field(default_factory=list)
    # RNFR seen without its RNTO yet, by session (pid): the renamed path.
    pending_renames: dict[str, str] = field(default_factory=dict)


def read_fingerprint(fd: int) -> bytes:
    return os.pread(fd, FINGERPRINT_BYTES, 0)


def matches(fd: int, position: FilePosition) -> bool:
    """The open file is the one `position` describes: same device, inode and first bytes."""
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != (position.device, position.inode):
        return False
    return os.pread(fd, len(position.fingerprint), 0) == position.fingerprint


class StateFileError(RuntimeError):
    """The saved position cannot be written (read-only, full disk, wrong owner): a local problem that
    reconnecting cannot cure, so the monitor stops with this message instead of re-sending forever."""


class OffsetStore:
    """One JSON file under the daemon's data_dir."""

    def __init__(self, path: Path, log: logging.Logger | None = None) -> None:
        self.path = Path(path)
        self.log = log or logging.getLogger("edeposit.ftp_monitor")

    def load(self) -> MonitorState | None:
        """The saved state; None when there is none (first start). A damaged file is moved aside."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("version") != STATE_VERSION:
                raise ValueError(f"version {raw.get('version')!r}, expected {STATE_VERSION}")
            files = [
                FilePosition(int(f["device"]), int(f["inode"]), bytes.fromhex(f["fingerprint"]), int(f["offset"]),
                             str(f["path"]))
                for f in raw["files"]
            ]
            renames = {str(pid): str(path) for pid, path in raw.get("pending_renames", {}).items()}
            return MonitorState(files, renames)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateFileError(f"cannot read the offsets file {self.path}: {exc.strerror or exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            damaged = self.path.with_name(self.path.name + ".damaged")
            try:
                os.replace(self.path, damaged)
            except OSError as move:
                raise StateFileError(f"the offsets file {self.path} is damaged ({exc}) and cannot be moved aside: "
                                     f"{move.strerror or move}") from move
            self.log.error("offset file %s is damaged (%s); moved it to %s and starting without it",
                           self.path, exc, damaged)
            return None

    def save(self, state: MonitorState) -> None:
        payload = {
            "version": STATE_VERSION,
            "files": [
                {"device": f.device, "inode": f.inode, "fingerprint": f.fingerprint.hex(), "offset": f.offset,
                 "path": f.path}
                for f in state.files
            ],
            "pending_renames": dict(state.pending_renames),
        }
        try:
            write_atomically(self.path, json.dumps(payload), mode=0o600)
        except OSError as exc:
            raise StateFileError(f"cannot write the offsets file {self.path}: {exc.strerror or exc} "
                                 f"(errno {exc.errno}); fix the file or its directory and start ftp_monitor "
                                 f"again") from exc
