"""Tells systemd (`Type=notify`) that the master is ready: once every daemon has started or failed.

supervisord does not speak the sd_notify protocol, so the master's event listener, which sees every
state change, sends `READY=1` with a `STATUS=` line: one datagram to $NOTIFY_SOCKET, no library. The unit
says `NotifyAccess=all` because the listener is a child of the main process, not the main process.
A daemon that failed does not hold the others back: READY=1 is sent and STATUS names the failed ones
(`edeposit-amqpd status` tells why), as start-all reports and carries on.
"""

from __future__ import annotations

import os
import socket
import xmlrpc.client
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.control import MASTER_PROGRAMS
from orchestrator.records import RecordStore


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send one sd_notify datagram; False when not started by systemd (no NOTIFY_SOCKET)."""
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True


def ready_status(infos: list[dict[str, Any]], store: RecordStore) -> str | None:
    """The STATUS text once every daemon is RUNNING or has failed for good; None while any is on its way."""
    groups: dict[str, list[str]] = {}
    for info in infos:
        if info["group"] not in MASTER_PROGRAMS:
            groups.setdefault(info["group"], []).append(info["statename"])
    failed = []
    for group, states in sorted(groups.items()):
        if all(state == "RUNNING" for state in states):
            continue
        given_up = all(state == "FATAL" for state in states) or (
            store.crash_loop(group) is not None and all(state in ("STOPPED", "EXITED", "FATAL") for state in states))
        if not given_up:
            return None
        failed.append(group)
    running = len(groups) - len(failed)
    if not failed:
        return f"{running} daemon{'s' if running != 1 else ''} running"
    return f"{running} running; not running: {', '.join(failed)} (see edeposit-amqpd status)"


class ReadyNotice:
    """Sends READY=1 once, on the first event after which every daemon has settled."""

    def __init__(self, rpc: Any, store: RecordStore, send: Callable[[str], bool] = notify) -> None:
        self.rpc = rpc
        self.store = store
        self.send = send
        self.sent = not os.environ.get("NOTIFY_SOCKET") and send is notify

    def check(self) -> None:
        if self.sent:
            return
        try:
            infos = list(self.rpc.getAllProcessInfo())
        except (OSError, xmlrpc.client.Error):
            return
        status = ready_status(infos, self.store)
        if status is not None:
            self.sent = True
            self.send(f"READY=1\nSTATUS={status}")
