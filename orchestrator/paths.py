"""Where things live: packaged files and default directories."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_CONF = Path(__file__).resolve().parent.parent / "conf"
SYSTEM_CONFIG = Path("/etc/edeposit/amqpd.ini")
CONFIG_ENV = "EDEPOSIT_AMQPD_CONFIG"


def packaged(name: str) -> Path:
    """A file of conf/, found next to the packages in a checkout and in an installed tree."""
    candidates = [PACKAGE_CONF / name]
    import sys

    candidates.append(Path(sys.prefix) / "share" / "edeposit-amqpd" / "conf" / name)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"packaged file {name!r} not found in {', '.join(map(str, candidates))}")


def default_state_dir() -> Path:
    """Root keeps state system-wide; anyone else in their own XDG state directory."""
    if os.geteuid() == 0:
        return Path("/var/lib/edeposit-amqpd")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "edeposit-amqpd"
