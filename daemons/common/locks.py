"""An exclusive lock held on a lock file, between threads' processes and between worker processes.

Note: the lock is on a file of its own, never on the data file it guards: data files are replaced
atomically (a new inode each write), and a lock on the old inode would not stop the next writer.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_path: Path, mode: int = 0o600) -> Iterator[None]:
    """Hold an exclusive `flock` on `lock_path` (created when missing) for the `with` block."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
