"""A handler with one structure per worker behaviour the core tests need."""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from collections import namedtuple
from pathlib import Path
from typing import Any

Ping = namedtuple("Ping", "text")
Pong = namedtuple("Pong", "text")
Slow = namedtuple("Slow", "seconds")
Steps = namedtuple("Steps", "count")
Step = namedtuple("Step", "number")
Done = namedtuple("Done", "count")
Die = namedtuple("Die", "")
Fail = namedtuple("Fail", "text")
Explode = namedtuple("Explode", "size")
Exit = namedtuple("Exit", "code")
DiskFull = namedtuple("DiskFull", "path")
CrashThread = namedtuple("CrashThread", "text")
# INLINE: served on the connection's thread (daemons/rpc/handler.py); each answers with the thread's name.
QuickPing = namedtuple("QuickPing", "text")
Nap = namedtuple("Nap", "seconds")
Chatty = namedtuple("Chatty", "")
Where = namedtuple("Where", "")

INLINE = ("QuickPing", "Nap", "Chatty")

OPTIONS_SPEC = "marker_dir = string(default=None)"
_markers: Path | None = None


class HandlerFailure(ValueError):
    """Raised on request, to prove error responses."""


def configure(context: Any) -> None:
    global _markers
    _markers = Path(context.options["marker_dir"]) if context.options.get("marker_dir") else None


def _mark(name: str) -> None:
    if _markers is not None:
        (_markers / f"{name}.{os.getpid()}").write_text(str(time.time()))


def react(message: Any, send_back: Any) -> Any:
    if isinstance(message, Ping | QuickPing):
        return Pong(message.text)
    if isinstance(message, Where):
        return threading.current_thread().name
    if isinstance(message, Nap):
        time.sleep(message.seconds)
        return threading.current_thread().name
    if isinstance(message, Chatty):
        send_back(Step(0))
        return threading.current_thread().name
    if isinstance(message, Slow):
        _mark("slow-started")
        time.sleep(message.seconds)
        return "slept"
    if isinstance(message, Steps):
        for number in range(message.count):
            send_back(Step(number))
        return Done(message.count)
    if isinstance(message, Die):
        _mark("dying")
        os.kill(os.getpid(), signal.SIGKILL)
    if isinstance(message, Fail):
        raise HandlerFailure(message.text)
    if isinstance(message, Explode):
        raise HandlerFailure("x" * message.size)
    if isinstance(message, CrashThread):
        def crash() -> None:
            raise RuntimeError(message.text)

        helper = threading.Thread(target=crash, name="helper")
        helper.start()
        helper.join()
        time.sleep(5)  # the worker ends while this message is in hand
        return "started"
    if isinstance(message, DiskFull):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), message.path)
    if isinstance(message, Exit):
        _mark("exiting")
        os._exit(message.code)
    return message
