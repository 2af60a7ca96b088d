"""The lock file in each FTP home: deleting it asks for an import; the monitor puts it back afterwards.

Files written into a user's home never follow a symlink the user may have left there.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

LOCK_TEXT = """\
Smazáním tohoto souboru spustíte import nahraných souborů.

Nahrajte do tohoto adresáře své e-knihy a k nim soubory s metadaty (.json, .csv, .xml, .yaml) se stejným
jménem (kniha.pdf + kniha.json), nebo každou dvojici do vlastního podadresáře, nebo soubor s metadaty
pojmenovaný podle ISBN knihy. Až bude vše nahráno, tento soubor smažte. Výsledek importu najdete
v souboru import.log.txt, chyby v souboru error.log.txt. Tento soubor se poté znovu vytvoří.

Deleting this file starts the import of the files you uploaded.

Upload your e-books here together with metadata files (.json, .csv, .xml, .yaml) of the same name
(book.pdf + book.json), or each pair in a directory of its own, or a metadata file named after the
book's ISBN. When everything is uploaded, delete this file. The result of the import is written to
import.log.txt, errors to error.log.txt. This file is then created again.
"""


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


def write_lock_file(path: Path, uid: int, gid: int) -> None:
    write_user_file(path, LOCK_TEXT.encode("utf-8"), uid, gid)
