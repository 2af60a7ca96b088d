"""How a daemon's log lines look: plain text or one JSON object per line (`[orchestrator] log_format`).

Either way a line written while a request is in hand names the request's UUID, so `grep UUID` finds
everything one request caused. The worker marks the request in hand with `hold(uuid)` from the moment it
takes a message until its answer is confirmed; inside `react`, `current_request()` also counts (so a
handler's own loggers are covered even outside the worker).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from daemons.rpc.handler import current_request

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(in_hand)s%(message)s"
_NOTHING = object()
_IN_HAND: contextvars.ContextVar[Any] = contextvars.ContextVar("edeposit_log_uuid", default=_NOTHING)


def hold(uuid: Any) -> contextvars.Token[Any]:
    """Mark the request with this UUID as in hand for the lines that follow; undo with `release(token)`."""
    return _IN_HAND.set(uuid)


def release(token: contextvars.Token[Any]) -> None:
    _IN_HAND.reset(token)


def uuid_in_hand() -> Any:
    """The UUID of the request in hand, or None (also for a request that came without one)."""
    held = _IN_HAND.get()
    if held is not _NOTHING:
        return held
    request = current_request()
    return request.uuid if request is not None else None


class RequestFilter(logging.Filter):
    """Adds `uuid`, `in_hand` (text: "UUID=... " or "") and `daemon` to every record passing a handler."""

    def __init__(self, daemon: str | None = None) -> None:
        super().__init__()
        self.daemon = daemon

    def filter(self, record: logging.LogRecord) -> bool:
        uuid = uuid_in_hand()
        record.uuid = uuid
        record.in_hand = "" if uuid is None else f"UUID={uuid} "
        record.daemon = self.daemon or record.name.removeprefix("edeposit.")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, daemon, pid, logger, UUID, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "daemon": getattr(record, "daemon", record.name),
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        uuid = getattr(record, "uuid", None)
        if uuid is not None:
            entry["UUID"] = uuid if isinstance(uuid, str | int | float) else str(uuid)
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.stack_info:
            entry["exception"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup(level: str | int = "INFO", log_format: str = "text", daemon: str | None = None) -> None:
    """Log to stderr (supervisord files it) in `log_format`; pika says only what matters."""
    if log_format not in FORMATS:
        raise ValueError(f"log_format {log_format!r}: expected one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestFilter(daemon))
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("pika").setLevel(logging.WARNING)
