"""ftp_manager: ProFTPD AuthUserFile. The structures of its messages; the back end is not part of this build yet."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

AddUser = namedtuple("AddUser", "username password")
RemoveUser = namedtuple("RemoveUser", "username")
ChangePassword = namedtuple("ChangePassword", "username new_password")
ListRegisteredUsers = namedtuple("ListRegisteredUsers", "")
Userlist = namedtuple("Userlist", "users")
SetUserSettings = namedtuple("SetUserSettings", "username SAME_NAME_DIR_PAIRING SAME_DIR_PAIRING ISBN_PAIRING CREATE_IMPORT_LOG LEAVE_BAD_FILES")
GetUserSettings = namedtuple("GetUserSettings", "username")
UserSettings = namedtuple("UserSettings", "username SAME_NAME_DIR_PAIRING SAME_DIR_PAIRING ISBN_PAIRING CREATE_IMPORT_LOG LEAVE_BAD_FILES")


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


def react(message: Any, send_back: Any) -> Any:
    raise BackendUnavailable(f"{type(message).__name__}: the ProFTPD AuthUserFile back end is not available in this build")
