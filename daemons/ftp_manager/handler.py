"""ftp_manager: FTP users of ProFTPD over AMQP (add, remove, change password, list, import settings).

Users live in the ProFTPD AuthUserFile (`[ftp] passwd_file`, ftpasswd format, SHA-512 crypt hashes); each
has a home `<home_root>/<user>` with the lock file whose deletion asks ftp_monitor for an import. Per-user
import settings are letters in the GECOS field, as the old edeposit.amqp.ftp kept them
(see daemons.ftp_manager.users). After every change ProFTPD gets a HUP.
"""

from __future__ import annotations

import logging
import os
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons.ftp_manager import users as ftp_users
from daemons.ftp_manager.homes import create_home, remove_home
from daemons.ftp_manager.proftpd import reload_proftpd
from daemons.ftp_manager.users import FtpUser, UnknownUser, UserExists
from daemons.rpc.handler import HandlerContext

AddUser = namedtuple("AddUser", "username password")
RemoveUser = namedtuple("RemoveUser", "username")
ChangePassword = namedtuple("ChangePassword", "username new_password")
ListRegisteredUsers = namedtuple("ListRegisteredUsers", "")
Userlist = namedtuple("Userlist", "users")
# The five flags are ftp_users.SETTINGS_FLAGS, spelt out so the structures read plainly.
SetUserSettings = namedtuple(
    "SetUserSettings",
    "username SAME_NAME_DIR_PAIRING SAME_DIR_PAIRING ISBN_PAIRING CREATE_IMPORT_LOG LEAVE_BAD_FILES",
)
GetUserSettings = namedtuple("GetUserSettings", "username")
UserSettings = namedtuple(
    "UserSettings",
    "username SAME_NAME_DIR_PAIRING SAME_DIR_PAIRING ISBN_PAIRING CREATE_IMPORT_LOG LEAVE_BAD_FILES",
)

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    AddUser, RemoveUser, ChangePassword, ListRegisteredUsers, Userlist, SetUserSettings, GetUserSettings,
    UserSettings
)

OPTIONS_SPEC = """
uid = integer(min=1, max=4294967294, default=2000)
gid = integer(min=1, max=4294967294, default=2000)
shell = string(min=1, default='/bin/false')
password_rounds = integer(min=1000, max=999999999, default=656000)
"""

log = logging.getLogger("edeposit.ftp_manager")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


class InvalidRequest(ValueError):
    """A request with a field of the wrong type; the text names the field, the value and what is expected."""


@dataclass(frozen=True)
class FtpManagerSettings:
    passwd_file: Path
    home_root: Path
    proftpd_pidfile: Path
    lock_filename: str
    uid: int = 2000
    gid: int = 2000
    shell: str = "/bin/false"
    password_rounds: int = 656000


_settings: FtpManagerSettings | None = None


def configure(context: HandlerContext) -> None:
    """Take the `[ftp]` section and this daemon's options."""
    global _settings
    ftp = context.shared["ftp"]
    options = context.options
    _settings = FtpManagerSettings(
        passwd_file=Path(ftp["passwd_file"]),
        home_root=Path(ftp["home_root"]),
        proftpd_pidfile=Path(ftp["proftpd_pidfile"]),
        lock_filename=ftp["lock_filename"],
        uid=int(options.get("uid", 2000)),
        gid=int(options.get("gid", 2000)),
        shell=str(options.get("shell", "/bin/false")),
        password_rounds=int(options.get("password_rounds", 656000)),
    )
    if health() is None and ftp_users.ensure_exists(_settings.passwd_file):
        context.log.info("created the empty AuthUserFile %s (mode 0600)", _settings.passwd_file)


def health() -> str | None:
    """A note when the AuthUserFile cannot be written where `[ftp] passwd_file` says."""
    if _settings is None:
        return None
    directory = _settings.passwd_file.parent
    if not directory.is_dir():
        return (f"[ftp] passwd_file = {_settings.passwd_file}: directory {directory} does not exist; install ProFTPD "
                f"(apt-get install proftpd-basic) or point passwd_file at an existing directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        return (f"[ftp] passwd_file = {_settings.passwd_file}: directory {directory} is not writable by this daemon; "
                f"run it as root or give it write access")
    return None


def _configured() -> FtpManagerSettings:
    if _settings is None:
        raise BackendUnavailable("ftp_manager is not configured: its worker calls configure(context) first")
    problem = health()
    if problem:
        raise BackendUnavailable(problem)
    return _settings


def _flag(message: Any, name: str) -> bool:
    value = getattr(message, name)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{type(message).__name__}.{name} = {value!r}: expected true or false")
    return value


def _existing(users: list[FtpUser], username: str) -> FtpUser:
    user = ftp_users.find_user(users, ftp_users.validate_username(username))
    if user is None:
        raise UnknownUser(f"FTP user {username!r} does not exist; list users with ListRegisteredUsers")
    return user


def _user_settings(user: FtpUser) -> UserSettings:
    return UserSettings(username=user.name, **user.settings)


def add_user(settings: FtpManagerSettings, username: str, password: str) -> bool:
    ftp_users.validate_username(username)
    password_hash = ftp_users.hash_password(password, settings.password_rounds)
    with ftp_users.locked(settings.passwd_file):
        users = ftp_users.read_users(settings.passwd_file)
        if ftp_users.find_user(users, username) is not None:
            raise UserExists(f"FTP user {username!r} already exists; remove it first or pick another name")
        home, created = create_home(settings.home_root, username, settings.uid, settings.gid,
                                    settings.lock_filename)
        user = FtpUser(username, password_hash, settings.uid, settings.gid, "", str(home), settings.shell)
        try:
            ftp_users.write_users(settings.passwd_file, [*users, user])
        except BaseException:
            if created:
                remove_home(settings.home_root, username)
            raise
    log.info("added FTP user %s with home %s", username, home)
    return True


def remove_user(settings: FtpManagerSettings, username: str) -> bool:
    with ftp_users.locked(settings.passwd_file):
        users = ftp_users.read_users(settings.passwd_file)
        user = _existing(users, username)
        ftp_users.write_users(settings.passwd_file, [other for other in users if other is not user])
        remove_home(settings.home_root, username)
    log.info("removed FTP user %s and its home", username)
    return True


def change_password(settings: FtpManagerSettings, username: str, new_password: str) -> bool:
    password_hash = ftp_users.hash_password(new_password, settings.password_rounds)
    with ftp_users.locked(settings.passwd_file):
        users = ftp_users.read_users(settings.passwd_file)
        user = _existing(users, username)
        changed = FtpUser(user.name, password_hash, user.uid, user.gid, user.gecos, user.home, user.shell)
        ftp_users.write_users(settings.passwd_file, [changed if other is user else other for other in users])
    log.info("changed the password of FTP user %s", username)
    return True


def set_user_settings(settings: FtpManagerSettings, message: Any) -> UserSettings:
    flags = {name: _flag(message, name) for name in ftp_users.SETTINGS_FLAGS}
    with ftp_users.locked(settings.passwd_file):
        users = ftp_users.read_users(settings.passwd_file)
        user = _existing(users, message.username)
        changed = user.with_settings(flags)
        ftp_users.write_users(settings.passwd_file, [changed if other is user else other for other in users])
    return _user_settings(changed)


def react(message: Any, send_back: Any) -> Any:
    """Answer one request; every change is followed by a HUP to ProFTPD."""
    settings = _configured()
    if isinstance(message, ListRegisteredUsers):
        return Userlist(users=[user.name for user in ftp_users.read_users(settings.passwd_file)])
    if isinstance(message, GetUserSettings):
        return _user_settings(_existing(ftp_users.read_users(settings.passwd_file), message.username))
    if isinstance(message, AddUser):
        result: Any = add_user(settings, message.username, message.password)
    elif isinstance(message, RemoveUser):
        result = remove_user(settings, message.username)
    elif isinstance(message, ChangePassword):
        result = change_password(settings, message.username, message.new_password)
    elif isinstance(message, SetUserSettings):
        result = set_user_settings(settings, message)
    else:
        raise InvalidRequest(
            f"ftp_manager cannot answer {type(message).__name__}: send AddUser, RemoveUser, ChangePassword, "
            f"ListRegisteredUsers, SetUserSettings or GetUserSettings"
        )
    reload_proftpd(settings.proftpd_pidfile)
    return result

