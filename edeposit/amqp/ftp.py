"""The old `edeposit.amqp.ftp`: the structures of the ftp_manager and ftp_monitor daemons, under their old names."""

from __future__ import annotations

from daemons.ftp_manager.handler import (
    AddUser,
    ChangePassword,
    GetUserSettings,
    ListRegisteredUsers,
    RemoveUser,
    SetUserSettings,
    Userlist,
    UserSettings,
)
from ftp_monitor.structures import DataPair, EbookFile, EPublication, FileEvent, ImportRequest, MetadataFile

__all__ = [
    "AddUser", "ChangePassword", "DataPair", "EbookFile", "EPublication", "FileEvent", "GetUserSettings",
    "ImportRequest", "ListRegisteredUsers", "MetadataFile", "RemoveUser", "SetUserSettings", "Userlist",
    "UserSettings",
]
