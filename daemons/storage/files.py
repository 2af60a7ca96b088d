"""Content-addressed files in a balanced directory tree, written atomically.

A file with SHA-256 digest `abcdef...` lives at `<root>/ab/cd/abcdef...<suffix>`: two levels of 256
directories keep every directory small however many files are stored, and the same content is stored
once. Files appear only complete: they are written to a temporary name in the target directory, synced,
then renamed into place.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from daemons.common import atomic

SUFFIX_PATTERN = re.compile(r"\.[a-z0-9]{1,10}")
TEMP_PREFIX = ".tmp-"


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_suffix(filename: str | None) -> str:
    """The file name's extension when it is short and plain (".epub"), else "" (it ends up in URLs)."""
    suffix = Path(filename or "").suffix.lower()
    return suffix if SUFFIX_PATTERN.fullmatch(suffix) else ""


def balanced_path(root: Path, digest: str, suffix: str = "") -> Path:
    return root / digest[:2] / digest[2:4] / f"{digest}{suffix}"


def write_atomically(path: Path, data: bytes) -> None:
    """Stored files are durable and world-readable (a web server may serve the public tree)."""
    atomic.write_atomically(path, data, mode=0o644, prefix=TEMP_PREFIX)


def store_content(root: Path, data: bytes, suffix: str = "") -> Path:
    """The path of `data` in the tree under `root`, writing it unless the same content is there already."""
    path = balanced_path(root, digest_of(data), suffix)
    if not path.is_file() or path.stat().st_size != len(data):
        write_atomically(path, data)
    return path


def remove_quietly(path: Path) -> None:
    """Remove a file or a directory tree, and the bucket directories it leaves empty."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    for parent in (path.parent, path.parent.parent):
        try:
            parent.rmdir()
        except OSError:
            break
