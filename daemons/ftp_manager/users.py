"""The ProFTPD AuthUserFile (ftpasswd format) as the FTP daemons' user database.

One line per user, `user:hash:uid:gid:gecos:home:shell`. The per-user import settings live in the GECOS
field as the old edeposit.amqp.ftp kept them: one letter per flag, `t` or `f`, in the order of
`SETTINGS_FLAGS` (e.g. `ttftf`). A GECOS field that is empty or holds anything else means "no settings":
every flag is on, so the global configuration decides.

Writers take `locked(passwd_file)` and replace the file atomically, so ProFTPD and readers never see a
half-written file.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from daemons.common import locks
from daemons.common.atomic import write_atomically

SETTINGS_FLAGS: tuple[str, ...] = (
    "SAME_NAME_DIR_PAIRING",
    "SAME_DIR_PAIRING",
    "ISBN_PAIRING",
    "CREATE_IMPORT_LOG",
    "LEAVE_BAD_FILES",
)
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
PASSWD_MODE = 0o600
_GECOS_SETTINGS = re.compile(rf"[tf]{{{len(SETTINGS_FLAGS)}}}", re.IGNORECASE)


class FtpUserError(ValueError):
    """A user request that cannot be done; the text names the user, the value and the fix."""


class InvalidUsername(FtpUserError):
    pass


class UnknownUser(FtpUserError, LookupError):
    pass


class UserExists(FtpUserError):
    pass


class PasswdFileError(RuntimeError):
    """The AuthUserFile cannot be read or written; the text names the file and line."""


@dataclass(frozen=True)
class FtpUser:
    """One line of the AuthUserFile."""

    name: str
    password_hash: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str

    def line(self) -> str:
        fields = {"username": self.name, "password hash": self.password_hash, "GECOS": self.gecos,
                  "home": self.home, "shell": self.shell}
        for what, value in fields.items():
            if any(char in value for char in ":\n\r\0"):
                raise PasswdFileError(f"{what} {value!r} contains ':' or a line break, which would break the "
                                      f"AuthUserFile line; choose a value without them")
        return ":".join([self.name, self.password_hash, str(self.uid), str(self.gid), self.gecos, self.home,
                         self.shell])

    @property
    def settings(self) -> dict[str, bool]:
        return decode_settings(self.gecos)

    def with_settings(self, flags: dict[str, bool]) -> FtpUser:
        return replace(self, gecos=encode_settings(flags))


def validate_username(username: object) -> str:
    """The username when ProFTPD and the home tree can use it safely; InvalidUsername otherwise."""
    if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username) or username in (".", ".."):
        raise InvalidUsername(
            f"username {username!r} is not allowed: use 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' "
            f"and '-', and not '.' or '..'"
        )
    return username


def home_of(home_root: Path, username: str) -> Path:
    """`<home_root>/<username>`, refusing any name that could point outside `home_root`."""
    return Path(home_root) / validate_username(username)


def encode_settings(flags: dict[str, bool]) -> str:
    """The GECOS text for the five flags, e.g. {'SAME_NAME_DIR_PAIRING': True, ...} -> 'tt...'."""
    missing = [name for name in SETTINGS_FLAGS if name not in flags]
    if missing:
        raise FtpUserError(f"user settings lack {', '.join(missing)}; expected all of {', '.join(SETTINGS_FLAGS)}")
    return "".join("t" if flags[name] else "f" for name in SETTINGS_FLAGS)


def decode_settings(gecos: str) -> dict[str, bool]:
    """The five flags from a GECOS field; all True when it holds no settings."""
    text = gecos.strip()
    if not _GECOS_SETTINGS.fullmatch(text):
        return dict.fromkeys(SETTINGS_FLAGS, True)
    return {name: letter.lower() == "t" for name, letter in zip(SETTINGS_FLAGS, text, strict=True)}


def parse_line(line: str, source: Path, number: int) -> FtpUser:
    fields = line.split(":")
    if len(fields) != 7:
        raise PasswdFileError(
            f"{source}, line {number}: expected 7 fields 'user:hash:uid:gid:gecos:home:shell', got {len(fields)}; "
            f"fix or remove that line"
        )
    name, password_hash, uid, gid, gecos, home, shell = fields
    try:
        return FtpUser(name, password_hash, int(uid), int(gid), gecos, home, shell)
    except ValueError:
        raise PasswdFileError(
            f"{source}, line {number}: uid {uid!r} and gid {gid!r} must be numbers; fix or remove that line"
        ) from None


def read_users(passwd_file: Path) -> list[FtpUser]:
    """Every user in file order; a file that does not exist yet holds no users."""
    try:
        text = Path(passwd_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise PasswdFileError(f"cannot read the AuthUserFile {passwd_file}: {exc.strerror}") from exc
    return [parse_line(line, passwd_file, number)
            for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def find_user(users: list[FtpUser], username: str) -> FtpUser | None:
    return next((user for user in users if user.name == username), None)


def write_users(passwd_file: Path, users: list[FtpUser]) -> None:
    """Replace the file atomically (temp file, fsync, rename, fsync of the directory), mode 0600."""
    text = "".join(user.line() + "\n" for user in users)
    write_atomically(passwd_file, text, mode=PASSWD_MODE)


def locked(passwd_file: Path) -> AbstractContextManager[None]:
    """Exclusive lock against other writers, on `<passwd_file>.lock` (the passwd file's inode changes)."""
    return locks.exclusive(Path(f"{passwd_file}.lock"), PASSWD_MODE)


def ensure_exists(passwd_file: Path) -> bool:
    """Create an empty AuthUserFile (mode 0600) when there is none: ProFTPD refuses to start without it.

    Returns True when the file was created now.
    """
    target = Path(passwd_file)
    if target.exists():
        return False
    with locked(target):
        if target.exists():
            return False
        write_users(target, [])
        return True


def load_user_settings(passwd_file: Path, username: str) -> dict[str, bool]:
    """The five import flags of a user; all True when the user has none set or is not in the file."""
    user = find_user(read_users(passwd_file), validate_username(username))
    return user.settings if user is not None else dict.fromkeys(SETTINGS_FLAGS, True)


def hash_password(password: str, rounds: int = 656_000) -> str:
    """A SHA-512 crypt (`$6$`) hash, the scheme ProFTPD's crypt(3) checks in the AuthUserFile."""
    from passlib.hash import sha512_crypt

    if not isinstance(password, str) or not password:
        raise FtpUserError("password is empty or not text; send a non-empty string")
    if "\n" in password or "\0" in password:
        raise FtpUserError("password contains a newline or NUL character; choose one without them")
    return sha512_crypt.using(rounds=rounds).hash(password)
