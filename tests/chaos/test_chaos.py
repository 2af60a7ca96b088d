"""Chaos: 2,000 requests stream through a two-process daemon under a real master while things break.

Each scenario proves that every request was answered at least once, that every answer belongs to a
request that was sent (its UUID and body), and measures how long answers took to flow again after each
fault. Duplicates are allowed (a dropped connection loses an unconfirmed answer and the broker
redelivers), losses are not.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest

from daemons.common.processes import pid_alive
from daemons.testing import queue_state, wait_for
from tests.chaos.conftest import EXCHANGE, INPUT_QUEUE, OUTPUT_QUEUE, PROCESSES
from tests.chaos.fleet import Fleet, close_connections, daemon_connections
from tests.chaos.traffic import Collector, Fault, Publisher, Tally

pytestmark = pytest.mark.slow

TOTAL = 2000
RATE = 125.0  # requests per second: the stream lasts 16 s, longer than any scenario's faults
CLOSE_AT = (200, 800, 1400)  # requests sent when the broker drops the daemon's connections
ANSWER_DEADLINE = 90.0  # seconds after the last request for the last answer


def consuming(vhost: str) -> bool:
    return queue_state(vhost, INPUT_QUEUE)[1] == PROCESSES


def run_scenario(fleet: Fleet, vhost: str, name: str, inject: Callable[[Publisher, Collector], list[Fault]],
                 report: Callable[[str], None], serving_thread: str) -> Tally:
    fleet.start_all()
    wait_for(lambda: consuming(vhost), timeout=30, what="both workers to consume")
    collector = Collector(vhost, OUTPUT_QUEUE)
    collector.start()
    assert collector.ready.wait(15) and collector.error is None, collector.error
    publisher = Publisher(vhost, EXCHANGE, "request", TOTAL, RATE)
    publisher.start()
    try:
        faults = inject(publisher, collector)
        late = [fault for fault in faults if fault.sent_before >= TOTAL]
        assert not late, f"faults struck after the last request was sent: {late}"
        publisher.join(TOTAL / RATE + 60)
        assert not publisher.is_alive() and publisher.error is None, f"publisher failed: {publisher.error!r}"
        sent = publisher.snapshot()
        try:
            wait_for(lambda: collector.answered() >= set(sent), timeout=ANSWER_DEADLINE, interval=0.2,
                     what="every request to be answered")
        except TimeoutError:
            pass  # the tally below says exactly what is missing
    finally:
        publisher.stop()
        collector.stop()
    tally = Tally.count(publisher.snapshot(), collector.answers(), faults)
    line = tally.report(name)
    print(line)
    report(line)
    assert collector.error is None, f"collector failed: {collector.error!r}"
    assert tally.sent == TOTAL
    assert not tally.foreign, f"answers under UUIDs never sent: {tally.foreign[:5]}"
    assert not tally.mismatched, f"answers not matching their request: {tally.mismatched[:3]}"
    assert not tally.lost, (f"{len(tally.lost)} requests never answered, e.g. {tally.lost[:5]}; "
                            f"queue {INPUT_QUEUE} (ready, consumers) = {queue_state(vhost, INPUT_QUEUE)}\n"
                            f"{fleet.log_tail()}")
    assert None not in tally.recoveries, f"answers never flowed again after some fault: {tally.recoveries}"
    threads = Counter(echo["thread"] for answer in collector.answers() if (echo := answer.echo()) is not None)
    assert threads.most_common(1)[0][0] == serving_thread, f"served on {dict(threads)}, not mostly {serving_thread}"
    return tally


def reconnected(vhost: str) -> list[str]:
    """The daemon's connections once every worker has one again (and consumes), else []."""
    connections = daemon_connections(vhost)
    return connections if len(connections) >= PROCESSES and consuming(vhost) else []


def wait_streaming(publisher: Publisher, count: int) -> None:
    wait_for(lambda: publisher.count() >= count or publisher.error, timeout=30, what=f"{count} requests sent")


def test_broker_closing_the_daemons_connections_three_times_loses_nothing(
        fleet: Fleet, vhost: str, chaos_report: Callable[[str], None], serving_thread: str) -> None:
    def inject(publisher: Publisher, collector: Collector) -> list[Fault]:
        faults = []
        for at in CLOSE_AT:  # a fixed schedule in the stream, so recovering slowly cannot push one past its end
            wait_streaming(publisher, at)
            connections = wait_for(lambda: reconnected(vhost), timeout=30, what="a connection per worker")
            close_connections(connections)
            faults.append(Fault("close_connection", time.time(), publisher.count()))
        return faults

    tally = run_scenario(fleet, vhost, "close_connection x3", inject, chaos_report, serving_thread)
    assert len(tally.recoveries) == 3


def test_a_random_worker_killed_every_half_second_for_ten_seconds_loses_nothing(
        fleet: Fleet, vhost: str, chaos_report: Callable[[str], None], serving_thread: str) -> None:
    seed = random.randrange(1 << 30)
    chooser = random.Random(seed)
    print(f"victims chosen with random.Random({seed})")

    def inject(publisher: Publisher, collector: Collector) -> list[Fault]:
        faults = []
        wait_streaming(publisher, 200)
        started = time.monotonic()
        for tick in range(20):
            next_tick = started + tick * 0.5
            if next_tick > time.monotonic():
                time.sleep(next_tick - time.monotonic())  # the kill cadence, not a wait for a condition
            pids = fleet.worker_pids()
            if not pids:
                continue  # both are being respawned; the next tick finds one
            victim = chooser.choice(pids)
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                continue
            faults.append(Fault("kill -9 worker", time.time(), publisher.count(), {victim}))
        return faults

    tally = run_scenario(fleet, vhost, "kill -9 a worker every 0.5 s for 10 s", inject, chaos_report, serving_thread)
    assert len(tally.recoveries) >= 15, "most ticks must have found a worker to kill"
    wait_for(lambda: consuming(vhost), timeout=30, what="supervisord to bring both workers back")


def test_master_killed_and_started_again_loses_nothing_and_leaves_no_orphan(
        fleet: Fleet, vhost: str, chaos_report: Callable[[str], None], serving_thread: str) -> None:
    orphans: set[int] = set()
    workers: set[int] = set()

    def inject(publisher: Publisher, collector: Collector) -> list[Fault]:
        wait_streaming(publisher, 400)
        old_master = fleet.master_pid()
        workers.update(fleet.worker_pids())
        orphans.update(fleet.kill_master())
        fault = Fault("kill -9 master", time.time(), publisher.count(), set(orphans))
        wait_for(lambda: not pid_alive(old_master), timeout=10, what="the master to die")
        fleet.start_all()
        assert fleet.master_pid() != old_master
        wait_for(lambda: not any(pid_alive(pid) for pid in orphans), timeout=30,
                 what=f"the orphaned workers {sorted(orphans)} to exit")
        wait_for(lambda: consuming(vhost), timeout=30, what="the new workers to consume")
        return [fault]

    run_scenario(fleet, vhost, "kill -9 master, start-all", inject, chaos_report, serving_thread)
    assert len(workers) == PROCESSES and workers <= orphans, f"workers {workers}, orphans {orphans}"
    assert not set(fleet.worker_pids()) & orphans
