"""The contract between the worker and a handler module: what a handler defines and what it is given.

A handler module defines:

- the entry point the daemon's `handler` key names (`react` by convention), called as
  `react(message, send_back)` for each request; its return value is the answer, an exception becomes an
  error response, `send_back(value)` publishes a progress message shaped like a response;
- `STRUCTURES`: the namedtuple classes its daemon decodes from the wire and answers with. A module
  without `STRUCTURES` (a quick handler of one's own) gets every namedtuple class in its namespace;
- optional `OPTIONS_SPEC`: configspec lines that validate the daemon's `[[[options]]]`;
- optional `INLINE`: names of request structures whose `react` is short and self-contained (it computes,
  it does not wait on a network, a disk or a child process, and calls neither `send_back` nor
  `publish`). The worker runs them on the connection's own thread, which saves the hand-over to the
  handler thread and back (docs/handlers.rst, "Inline structures"). One that runs longer than
  `INLINE_LIMIT_SECONDS`, or calls `send_back` or `publish`, is run on the handler thread from then on
  (the latter gets an error answer first, as the declaration was wrong);
- optional hooks, each called by the runner under exactly this name:
  `configure(context)` once before the first message, with a `HandlerContext`;
  `health()` returns None or a note such as "clamscan not found: apt-get install clamav" that
  `edeposit-amqpd status` shows (the daemon still runs and answers with errors naming the problem);
  it is called again every `health_interval` seconds and at each `status`, from another thread
  (daemons/rpc/health.py), so it should only look and be quick;
  `shutdown()` after the worker stopped consuming, to end the handler's own threads.

While `react` runs, `current_request()` tells which request it serves (its UUID header, properties and
body), as the old `react_fn(message, UUID)` form did.

A handler is plain functions: unit-test it by calling `react(message, sent.append)`.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

# An inline react that runs longer than this holds up the connection's heartbeats and every other event
# of the worker for that long (a heartbeat interval is seconds), so its structure leaves INLINE.
INLINE_LIMIT_SECONDS = 0.5

SendBack = Callable[[Any], None]
React = Callable[[Any, SendBack], Any]
Publish = Callable[..., None]


class HandlerModule(Protocol):
    """The names a built-in handler module defines (every one of them; the loader fills in the optional ones
    for modules of one's own)."""

    STRUCTURES: Sequence[type]
    OPTIONS_SPEC: str
    INLINE: Sequence[str]

    def react(self, message: Any, send_back: SendBack) -> Any: ...
    def configure(self, context: HandlerContext) -> None: ...
    def health(self) -> str | None: ...
    def shutdown(self) -> None: ...


def _not_connected(value: Any, routing_key: str | None = None, exchange: str | None = None, uuid: Any = "") -> None:
    raise RuntimeError("publish() works only inside a running worker")


@dataclass(frozen=True)
class Request:
    """The request a handler is serving: what `current_request()` returns while `react` runs."""

    uuid: Any  # the UUID header, echoed on every answer
    method: Any  # pika's Basic.Deliver: routing_key, exchange, delivery_tag, redelivered
    properties: Any  # pika.BasicProperties of the request
    body: bytes
    answer_key: str  # the routing key its answers go out with


_CURRENT_REQUEST: contextvars.ContextVar[Request | None] = contextvars.ContextVar("edeposit_request", default=None)


def current_request() -> Request | None:
    """The request `react` is serving, or None outside a `react` call.

    Note: a context variable, so threads the handler starts itself do not see it; pass it on.
    """
    return _CURRENT_REQUEST.get()


def serving(request: Request | None) -> contextvars.Token[Request | None]:
    """Set the request in hand (the worker, around each `react` call); undo with `done_serving(token)`."""
    return _CURRENT_REQUEST.set(request)


def done_serving(token: contextvars.Token[Request | None]) -> None:
    _CURRENT_REQUEST.reset(token)


@dataclass(frozen=True)
class HandlerContext:
    """Passed to a handler module's optional `configure(context)` before the first message."""

    name: str
    options: dict[str, Any]
    data_dir: Path
    state_dir: Path
    shared: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("edeposit.handler"))
    # publish(value, routing_key=None, exchange=None, uuid=""): send a message of the handler's own accord
    # (e.g. a scheduled harvest) to the daemon's exchange, or to another `exchange` of its vhost, on the
    # output key by default, with header UUID = `uuid`; blocks until the broker confirmed it; raises
    # daemons.rpc.session.SessionLost while the broker is away (try again later) and
    # daemons.rpc.worker.UnknownExchangeError for an exchange the vhost does not have.
    publish: Publish = _not_connected


def _no_configure(context: HandlerContext) -> None:
    return None


def _no_health() -> str | None:
    return None


def _no_shutdown() -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """A module's hooks, with do-nothing stand-ins for the ones it does not define."""

    configure: Callable[[HandlerContext], None] = _no_configure
    health: Callable[[], str | None] = _no_health
    shutdown: Callable[[], None] = _no_shutdown

    @classmethod
    def of(cls, module: ModuleType) -> Hooks:
        found = {name: getattr(module, name) for name in ("configure", "health", "shutdown")
                 if callable(getattr(module, name, None))}
        return cls(**found)
