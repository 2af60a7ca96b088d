"""FTP users' home directories: `<home_root>/<user>` with the lock file that asks for an import.

Every path is built by `daemons.ftp_manager.users.home_of`, which refuses names that could leave `home_root`, and
nothing here follows a symlink out of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from daemons.ftp_manager.users import home_of

HOME_MODE = 0o750
LOCK_FILE_MODE = 0o644

LOCK_FILE_TEXT = """\
Smazáním tohoto souboru spustíte import nahraných souborů do systému E-deposit.

Nahrajte e-knihy a jejich metadata (.json, .csv, .xml nebo .yaml) do této složky a pak tento soubor
smažte. Soubory se spárují (stejný název, stejná složka nebo ISBN v názvu souboru s metadaty), odešlou
se ke zpracování a po potvrzení se ze serveru odstraní. Výsledek najdete v souborech import.log.txt
a error.log.txt. Tento soubor se poté znovu vytvoří.

---

Delete this file to import the uploaded files into the E-deposit system.

Upload e-books and their metadata (.json, .csv, .xml or .yaml) into this directory, then delete this
file. The files are paired (same name, same directory, or an ISBN as the metadata file's name), sent for
processing and removed from the server once accepted. The result is in import.log.txt and error.log.txt.
This file is then created again.
"""


class HomeError(RuntimeError):
    """A home directory cannot be made or removed safely; the text names the path and the fix."""


def _owned_by(path: Path, uid: int, gid: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, uid, gid, follow_symlinks=False)


def create_lock_file(home: Path, lock_filename: str, uid: int = -1, gid: int = -1) -> Path:
    """Write the lock file (instructions in Czech and English), owned by the FTP user so they can delete it."""
    if "/" in lock_filename or lock_filename in ("", ".", ".."):
        raise HomeError(f"[ftp] lock_filename = {lock_filename!r}: expected a plain file name, no '/'")
    lock = Path(home) / lock_filename
    if lock.is_symlink():
        lock.unlink()
    lock.write_text(LOCK_FILE_TEXT, encoding="utf-8")
    lock.chmod(LOCK_FILE_MODE)
    _owned_by(lock, uid, gid)
    return lock


def create_home(home_root: Path, username: str, uid: int, gid: int, lock_filename: str) -> tuple[Path, bool]:
    """Make `<home_root>/<user>` (or reuse a real directory left there) with a fresh lock file.

    Returns the home and whether it was created now, so a caller can undo it when a later step fails.
    """
    home = home_of(home_root, username)
    Path(home_root).mkdir(parents=True, exist_ok=True)
    if home.is_symlink() or (home.exists() and not home.is_dir()):
        raise HomeError(f"{home} exists and is not a plain directory; move it away before adding user {username!r}")
    created = not home.exists()
    if created:
        home.mkdir(mode=HOME_MODE)
    home.chmod(HOME_MODE)
    _owned_by(home, uid, gid)
    create_lock_file(home, lock_filename, uid, gid)
    return home, created


def remove_home(home_root: Path, username: str) -> None:
    """Delete a user's home tree; a symlink in its place is removed as a link, never followed."""
    home = home_of(home_root, username)
    if home.is_symlink() or home.is_file():
        home.unlink()
        return
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(home)
