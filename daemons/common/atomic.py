"""Replaces a file so readers see the old content or the new, never half of it, even after a crash."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644, durable: bool = True,
                     prefix: str | None = None) -> None:
    """Write a temp file beside `path`, then rename it over `path`.

    `durable` also fsyncs the file and its directory, so the new content survives a power cut; the temp
    name starts with `prefix` (default: a dot and the file's name), so directory scans can skip it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=prefix or f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    if durable:
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
