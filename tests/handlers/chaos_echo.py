"""Test handler for the chaos suite: answers a token with the UUID it was served under.

The answer carries the request's UUID header and body back, plus which process (and thread) handled it and when, so a
test can tell that every answer belongs to its request and when answers flowed again after a fault.
"""

from __future__ import annotations

import os
import threading
import time
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from daemons.rpc.handler import current_request

Token = namedtuple("Token", "uuid seq")
Echo = namedtuple("Echo", "header_uuid uuid seq pid handled_at thread")

STRUCTURES = (Token, Echo)


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    request = current_request()
    header_uuid = request.uuid if request is not None else None
    return Echo(header_uuid, message.uuid, message.seq, os.getpid(), time.time(), threading.current_thread().name)
