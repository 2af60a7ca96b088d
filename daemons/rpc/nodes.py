"""Opening a connection to the first broker node that answers, and telling `status` which node that was.

pika's BlockingConnection walks a list of parameters too, but does not say which one it reached; this
walk does the same in the same order and keeps the answer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pika
import pika.exceptions


def label(parameters: pika.ConnectionParameters) -> str:
    host = parameters.host
    return f"[{host}]:{parameters.port}" if ":" in host else f"{host}:{parameters.port}"


def open_first(parameters: Sequence[pika.ConnectionParameters],
               **kwargs: Any) -> tuple[pika.BlockingConnection, pika.ConnectionParameters]:
    """The connection to the first node that answers, and that node's parameters.

    Raises the last node's error when none answers; a refused login or vhost is raised at once, since
    every node of a cluster shares users and vhosts.
    """
    if not parameters:
        raise ValueError("no broker node to connect to")
    error: BaseException | None = None
    for node in parameters:
        try:
            return pika.BlockingConnection(node, **kwargs), node
        except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError,
                pika.exceptions.ProbableAccessDeniedError):
            raise
        except pika.exceptions.ConnectionClosedByBroker as exc:
            if exc.reply_code == 530:  # NOT_ALLOWED: the vhost is missing on every node alike
                raise
            error = exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            error = exc
    assert error is not None
    raise error


class NodeReport:
    """`<state_dir>/nodes/<daemon>/<pid>` holds the node a process is connected to, for `status`."""

    def __init__(self, state_dir: Path, daemon: str, pid: int | None = None) -> None:
        self.path = state_dir / "nodes" / daemon / str(pid or os.getpid())

    def connected(self, node: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(node + "\n")
        temporary.replace(self.path)

    def disconnected(self) -> None:
        self.path.unlink(missing_ok=True)


def connected_node(state_dir: Path, daemon: str, pid: int, started: float = 0.0) -> str | None:
    """The node process `pid` of `daemon` last reported, or None.

    A killed process cannot remove its report: one older than `started` (the process's start time) was left
    by an earlier process with the same pid.
    """
    path = NodeReport(state_dir, daemon, pid).path
    try:
        if path.stat().st_mtime < started:
            return None
        return path.read_text().strip() or None
    except OSError:
        return None
