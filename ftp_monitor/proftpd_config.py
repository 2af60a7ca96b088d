"""The ProFTPD lines the FTP daemons rely on, printed by `edeposit-amqpd proftpd-config`.

This module is the single source of the monitor's log format: the parser imports EDEPOSIT_LOG_FORMAT and
EDEPOSIT_FIELDS from here, so the format ProFTPD writes and the one the monitor reads cannot drift apart.

Note: ProFTPD does not turn `\\t` into a tab inside LogFormat, so the printed line holds real tab
characters; paste it as it is.
"""

from __future__ import annotations

from typing import Any

LOG_FORMAT_NAME = "edeposit"
LEGACY_LOG_FORMAT_NAME = "paths"

# Version tag first, path last (a path may hold anything but a newline). Local time with its zone offset:
# strftime via %{...}t, because %{iso8601} has neither zone nor a tab-free form.
EDEPOSIT_FIELDS: tuple[str, ...] = (
    "version",          # always "edeposit1"
    "time",             # 2026-11-27T09:15:02+0100
    "pid",              # %P  session process id (pairs RNFR with RNTO)
    "user",             # %u
    "address",          # %a  client address
    "protocol",         # %{protocol}  ftp, ftps, sftp...
    "command",          # %m  STOR, DELE, RNFR, RNTO...
    "status",           # %s  reply code
    "bytes",            # %b  bytes transferred
    "file_size",        # %{file-size}
    "file_modified",    # %{file-modified}  true when an existing file was overwritten
    "transfer_status",  # %{transfer-status}  success, failed, cancelled, timeout, -
    "path",             # %f  full path on disk
)
_FIELD_VARIABLES: tuple[str, ...] = (
    "edeposit1",
    "%{%Y-%m-%dT%H:%M:%S%z}t",
    "%P",
    "%u",
    "%a",
    "%{protocol}",
    "%m",
    "%s",
    "%b",
    "%{file-size}",
    "%{file-modified}",
    "%{transfer-status}",
    "%f",
)
EDEPOSIT_LOG_FORMAT: str = "\t".join(_FIELD_VARIABLES)

# The format of the old edeposit.amqp.ftp monitor (`log_format = legacy`).
LEGACY_LOG_FORMAT: str = "%f, %u, %m, %{%s}t"

# Commands whose records the monitor needs: STOR/APPE/DELE/RNFR/RNTO are in WRITE, RETR in READ.
LOGGED_COMMAND_CLASSES = "READ,WRITE"


class ProFTPDConfigError(ValueError):
    """A configured path or format ProFTPD cannot be given; the text names the key and the fix."""


def quote(value: str, key: str) -> str:
    """A directive argument: as it is, or in double quotes when it holds spaces."""
    if any(char in value for char in '"\n\r\0'):
        raise ProFTPDConfigError(f"{key} = {value!r}: ProFTPD cannot take a path with a double quote or line break; "
                                 f"choose another path")
    if not value.startswith("/"):
        raise ProFTPDConfigError(f"{key} = {value!r}: ProFTPD needs an absolute path; write it starting with '/'")
    return f'"{value}"' if any(char.isspace() for char in value) else value


def log_format_lines(log_format: str, log_file: str) -> list[str]:
    if log_format == "edeposit":
        name, text = LOG_FORMAT_NAME, EDEPOSIT_LOG_FORMAT
    elif log_format == "legacy":
        name, text = LEGACY_LOG_FORMAT_NAME, LEGACY_LOG_FORMAT
    else:
        raise ProFTPDConfigError(f"[daemons] [[ftp_monitor]] log_format = {log_format!r}: expected 'edeposit' or "
                                 f"'legacy'")
    log_path = quote(str(log_file), "[daemons] [[ftp_monitor]] log_file")
    return [f'LogFormat {name} "{text}"', f"ExtendedLog {log_path} {LOGGED_COMMAND_CLASSES} {name}"]


def render(options: dict[str, Any], ftp: dict[str, Any]) -> str:
    """The lines to paste into proftpd.conf for the configured paths, with a comment saying why each is there."""
    log_lines = log_format_lines(str(options.get("log_format") or "edeposit"), str(options["log_file"]))
    passwd_file = quote(str(ftp["passwd_file"]), "[ftp] passwd_file")
    pidfile = quote(str(ftp["proftpd_pidfile"]), "[ftp] proftpd_pidfile")
    return "\n".join([
        "# edeposit-amqpd: paste into proftpd.conf (the LogFormat line holds real tab characters)",
        "# ftp_monitor reads this log; each record is one line, fields separated by tabs, path last",
        *log_lines,
        "# ftp_manager keeps the FTP users here (ftpasswd format, SHA-512 crypt hashes)",
        f"AuthUserFile {passwd_file}",
        "# ftp_manager sends HUP to the pid in this file after each user change",
        f"PidFile {pidfile}",
        f"# every user is locked into <home_root>/<user> ({ftp['home_root']}); users have no login shell",
        "DefaultRoot ~",
        "RequireValidShell off",
        "",
    ])
