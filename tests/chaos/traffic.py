"""The chaos suite's client side: a paced publisher and a collector, each a thread with its own connection.

pika allows one thread per connection, so each side owns its connection and the test thread only reads
what they recorded (under a lock). Their connection names start with CLIENT_PREFIX, which is how fault
injection tells them apart from the daemon's connections in the same vhost.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pika

from daemons.testing import BROKER

CLIENT_PREFIX = "edeposit chaos"


@dataclass(frozen=True)
class Answer:
    received_at: float
    header_uuid: Any
    kind: str | None
    body: bytes

    def echo(self) -> dict[str, Any] | None:
        """The decoded Echo of a normal response, None for anything else (an error response, say)."""
        if self.kind != "response":
            return None
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) and value.get("__nt_name") == "Echo" else None


class Publisher(threading.Thread):
    """Sends `total` persistent, confirmed requests at `rate` per second, each under a fresh UUID."""

    def __init__(self, vhost: str, exchange: str, routing_key: str, total: int, rate: float) -> None:
        super().__init__(name="chaos publisher", daemon=True)
        self.vhost, self.exchange, self.routing_key = vhost, exchange, routing_key
        self.total, self.rate = total, rate
        self.sent: dict[str, int] = {}  # UUID -> seq
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """Stop early (a failing test must not leave a thread publishing into a deleted vhost)."""
        self._stop_event.set()
        self.join(10)

    def count(self) -> int:
        with self._lock:
            return len(self.sent)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.sent)

    def run(self) -> None:
        try:
            connection = pika.BlockingConnection(BROKER.parameters(self.vhost, name=f"{CLIENT_PREFIX} publisher"))
            try:
                channel = connection.channel()
                channel.confirm_delivery()
                started = time.monotonic()
                for seq in range(self.total):
                    if self._stop_event.is_set():
                        break
                    ahead = started + seq / self.rate - time.monotonic()
                    if ahead > 0:
                        connection.sleep(ahead)  # pacing, so the stream outlasts the faults
                    token = str(uuid.uuid4())
                    body = json.dumps({"uuid": token, "seq": seq, "__nt_name": "Token"}).encode()
                    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                      headers={"UUID": token})
                    channel.basic_publish(self.exchange, self.routing_key, body, properties, mandatory=True)
                    with self._lock:
                        self.sent[token] = seq
            finally:
                if connection.is_open:
                    connection.close()
        except BaseException as exc:  # reported by the test, which must not hang on a dead thread
            self.error = exc


class Collector(threading.Thread):
    """Consumes a queue until stopped and records every message with the time it arrived."""

    def __init__(self, vhost: str, queue: str) -> None:
        super().__init__(name="chaos collector", daemon=True)
        self.vhost, self.queue = vhost, queue
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._answers: list[Answer] = []
        self._answered: set[Any] = set()

    def answers(self) -> list[Answer]:
        with self._lock:
            return list(self._answers)

    def answered(self) -> set[Any]:
        with self._lock:
            return set(self._answered)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)

    def run(self) -> None:
        try:
            connection = pika.BlockingConnection(BROKER.parameters(self.vhost, name=f"{CLIENT_PREFIX} collector"))
            try:
                channel = connection.channel()

                def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
                    header_uuid = (properties.headers or {}).get("UUID")
                    answer = Answer(time.time(), header_uuid, properties.type, body)
                    with self._lock:
                        self._answers.append(answer)
                        self._answered.add(header_uuid)

                channel.basic_consume(self.queue, on_message, auto_ack=True)
                self.ready.set()
                while not self._stop_event.is_set():
                    connection.process_data_events(time_limit=0.1)
            finally:
                if connection.is_open:
                    connection.close()
        except BaseException as exc:
            self.error = exc
            self.ready.set()


@dataclass
class Fault:
    """One injected fault: when it took effect and which worker processes it took away."""

    kind: str
    at: float
    sent_before: int  # requests sent when it struck: it must strike while they still stream
    gone: set[int] = field(default_factory=set)


@dataclass
class Tally:
    """What a scenario's collector saw, measured against what its publisher sent."""

    sent: int
    answered: int
    answers: int
    lost: list[str]
    duplicates: int
    foreign: list[Any]  # answers under a UUID that was never sent
    mismatched: list[Answer]  # answers whose body does not belong to their request
    recoveries: list[float | None]

    @classmethod
    def count(cls, sent: dict[str, int], answers: list[Answer], faults: list[Fault]) -> Tally:
        answered = {a.header_uuid for a in answers if a.header_uuid in sent}
        mismatched = []
        for answer in answers:
            echo = answer.echo()
            if answer.header_uuid not in sent:
                continue
            if (echo is None or echo["uuid"] != answer.header_uuid or echo["header_uuid"] != answer.header_uuid
                    or echo["seq"] != sent[answer.header_uuid]):
                mismatched.append(answer)
        return cls(
            sent=len(sent),
            answered=len(answered),
            answers=len(answers),
            lost=sorted(set(sent) - answered),
            duplicates=len(answers) - len({a.header_uuid for a in answers}),
            foreign=[a.header_uuid for a in answers if a.header_uuid not in sent],
            mismatched=mismatched,
            recoveries=[recovery(fault, answers) for fault in faults],
        )

    def report(self, scenario: str) -> str:
        known = [r for r in self.recoveries if r is not None]
        worst = f"{max(known):.3f} s" if known else "n/a"
        median = f"{sorted(known)[len(known) // 2]:.3f} s" if known else "n/a"
        return (f"chaos {scenario}: sent={self.sent} answered={self.answered} lost={len(self.lost)} "
                f"duplicates={self.duplicates} answers={self.answers} foreign={len(self.foreign)} "
                f"mismatched={len(self.mismatched)} faults={len(self.recoveries)} "
                f"recovery max={worst} median={median} never={self.recoveries.count(None)}")


def recovery(fault: Fault, answers: list[Answer]) -> float | None:
    """Seconds from the fault to the first answer handled after it by a process the fault left alive."""
    for answer in sorted(answers, key=lambda a: a.received_at):
        echo = answer.echo()
        if (answer.received_at >= fault.at and echo is not None and echo["handled_at"] >= fault.at
                and echo["pid"] not in fault.gone):
            return answer.received_at - fault.at
    return None
