"""Commands the CLI suggests, spelt so the operator can paste them: with the `-c FILE` in use."""

from __future__ import annotations

import os
import shlex
from typing import Any

# The source of a config read from no file (orchestrator.config.BUILTIN; repeated to stay a leaf module).
_BUILTIN = "<built-in defaults>"


def cli(config: Any) -> str:
    """`edeposit-amqpd`, with `-c FILE` unless the config is the built-in one (no file to name)."""
    source = str(config.source)
    if source.startswith(_BUILTIN):
        return "edeposit-amqpd"
    # Absolute, so the command works from any directory, not only where the relative path was given.
    return f"edeposit-amqpd -c {shlex.quote(os.path.abspath(source))}"


def command(config: Any, *args: str) -> str:
    """A whole command in backticks, e.g. `edeposit-amqpd -c /etc/x.ini reload`."""
    return f"`{' '.join([cli(config), *args])}`"
