"""Writes the monitor's files (lock file, import and error logs) into a user's home.

Never follows a symlink the user may have left there, so nothing outside the home is touched.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_user_file(path: Path, data: bytes, uid: int, gid: int, mode: int = 0o644) -> None:
    """Replace `path` with `data`, owned by the user; a symlink or other non-file there is removed, never followed."""
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        with contextlib.suppress(PermissionError):
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
