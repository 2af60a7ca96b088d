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


RACE = """
import threading
import daemons, pika  # noqa: F401  (installs the stub, as a worker does)
import asyncio
barrier = threading.Barrier(8)
errors = []
def touch(name):
    barrier.wait()
    try:
        getattr(asyncio, name)
    except AttributeError as exc:
        errors.append(repr(exc))
names = ["run", "get_event_loop_policy", "Future", "Queue", "sleep", "Event", "Lock", "gather"]
threads = [threading.Thread(target=touch, args=(n,)) for n in names]
for t in threads: t.start()
for t in threads: t.join()
print(len(errors), errors)
"""


def test_eight_threads_touching_asyncio_at_once_never_see_a_half_loaded_module() -> None:
    for _ in range(10):
        done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=60, check=True)
        assert done.stdout.split(" ", 1)[0] == "0", done.stdout
