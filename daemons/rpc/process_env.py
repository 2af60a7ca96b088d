"""A daemon's process settings (`environment`, `python_path`, `directory`) applied inside its worker.

The master's supervisord already sets the environment and the working directory of the workers it
spawns; applying them here too gives a worker started another way (an old per-daemon script,
`edeposit-amqpd worker NAME` by hand) the same process, and puts `python_path` first on sys.path.
"""

from __future__ import annotations

import os

from daemons.rpc.loader import use_python_path
from daemons.rpc.settings import DaemonSettings


def apply(settings: DaemonSettings) -> None:
    for entry in settings.environment:
        key, _, value = entry.partition("=")
        os.environ[key] = value
    if settings.directory:
        os.chdir(settings.directory)
    use_python_path(settings)
