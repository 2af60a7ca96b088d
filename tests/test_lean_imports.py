"""Worker processes stay small: pika's unused asyncio adapter does not load asyncio until it is used."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import orchestrator.cli, daemons.rpc.runner, pika
print('asyncio.base_events' in sys.modules)
import asyncio
async def answer():
    return 42
print(asyncio.run(answer()))
from pika.adapters.asyncio_connection import AsyncioConnection
print(AsyncioConnection.__name__)
"""


def test_worker_imports_leave_asyncio_unloaded_until_it_is_used() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "42", "AsyncioConnection"]
