"""Tell a running ProFTPD that its users changed: SIGHUP to the pid in `[ftp] proftpd_pidfile`.

Note: ProFTPD reads the AuthUserFile at every login, so a missed reload never loses a change; that is why
a missing or stale pid file is reported in the log, not as a failed request. For the same reason an
ftp_manager that runs as an unprivileged user, which may not signal a ProFTPD that runs as root, does
without the HUP: it says so once in its log.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from daemons.common.processes import process_name

log = logging.getLogger("edeposit.ftp_manager")
_told_not_allowed = False


def proftpd_pid(pidfile: Path) -> int | None:
    """The pid in the file when that process is a ProFTPD, else None (and why, in the log)."""
    try:
        text = Path(pidfile).read_text().strip()
    except FileNotFoundError:
        log.warning("ProFTPD pid file %s not found (ProFTPD not running, or [ftp] proftpd_pidfile differs from "
                    "its PidFile); not reloading", pidfile)
        return None
    except OSError as exc:
        log.warning("cannot read ProFTPD pid file %s: %s; not reloading", pidfile, exc.strerror)
        return None
    if not text.isdigit():
        log.warning("ProFTPD pid file %s holds %r, not a pid; not reloading", pidfile, text[:40])
        return None
    pid = int(text)
    command = process_name(pid)
    if command is None:
        log.warning("ProFTPD pid file %s names pid %d, which is not running; not reloading", pidfile, pid)
        return None
    if not command.startswith("proftpd"):
        log.warning("ProFTPD pid file %s names pid %d, which is %r, not proftpd; not reloading", pidfile, pid,
                    command)
        return None
    return pid


def reload_proftpd(pidfile: Path) -> bool:
    """HUP ProFTPD; True when the signal was sent."""
    pid = proftpd_pid(pidfile)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        log.warning("ProFTPD pid %d from %s exited before the reload", pid, pidfile)
        return False
    except PermissionError:
        global _told_not_allowed
        if not _told_not_allowed:
            log.info("not allowed to signal ProFTPD pid %d as this user; not needed: ProFTPD reads the "
                     "AuthUserFile at every login", pid)
            _told_not_allowed = True
        return False
    log.info("sent HUP to ProFTPD pid %d", pid)
    return True
