"""The master's metrics endpoint over real HTTP: exact counts after known requests, a kill -9, queue depths.

A real master (supervisord, its exporter, a real worker) in a throwaway vhost; numbers are read with
prometheus_client's own parser.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemons.testing import publish, read_messages, wait_for
from tests.test_master_lifecycle import Master, echo_daemon, make_master  # noqa: F401

pytestmark = pytest.mark.slow
REQUEST_KEY = "request"


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the endpoint, keyed by (name, sorted labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def body(text: str) -> bytes:
    return json.dumps({"text": text, "__nt_name": "Ping"}).encode()


def rabbitmqctl_depth(vhost: str, queue: str) -> int:
    done = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages"],
                          capture_output=True, text=True, timeout=60, check=True)
    rows = dict(line.split() for line in done.stdout.splitlines() if line.strip())
    return int(rows[queue])


def test_scrape_counts_every_outcome_exactly_and_survives_a_kill_9(probe_master: tuple[Master, int],
                                                                    vhost: str) -> None:
    master, port = probe_master
    assert master.run("start-all")[0] == 0
    me = {"daemon": "probe", "process": "probe"}
    wait_for(lambda: value(scrape(port), "edeposit_process_up", **me) == 1, what="the exporter")
    uuids = {kind: [f"{kind}-{uuid.uuid4().hex[:8]}" for _ in range(count)]
             for kind, count in (("ok", 4), ("progress", 2), ("fail", 3), ("big", 2))}
    for kind, names in uuids.items():
        for name in names:
            text = name if kind != "big" else "x" * 400
            publish(vhost, "probe", REQUEST_KEY, body(text), headers={"UUID": name})
    publish(vhost, "probe", REQUEST_KEY, body("no uuid"))
    answers = read_messages(vhost, "probe_out", 12 + 2)  # 12 final answers and 2 progress messages
    assert len(answers) == 14

    samples = scrape(port)
    requests = "edeposit_requests_total"
    assert value(samples, requests, **me, outcome="ok", exception="") == 6
    assert value(samples, requests, **me, outcome="error", exception="ValueError") == 3
    assert value(samples, requests, **me, outcome="too_large", exception="") == 2
    assert value(samples, requests, **me, outcome="poison", exception="") == 0
    assert value(samples, requests, **me, outcome="no_uuid", exception="") == 1
    assert value(samples, "edeposit_answers_published_total", **me) == 12
    assert value(samples, "edeposit_progress_messages_total", **me) == 2
    assert value(samples, "edeposit_handler_duration_seconds_count", **me) == 9  # oversized ones never ran
    assert value(samples, "edeposit_handler_duration_seconds_bucket", **me, le="+Inf") == 9
    assert value(samples, "edeposit_messages_in_hand", **me) == 0
    assert value(samples, "edeposit_broker_connected", **me, node="127.0.0.1:5672") == 1
    assert value(samples, "edeposit_process_state", daemon="probe", process="probe", state="RUNNING") == 1
    assert value(samples, "edeposit_daemon_restarts_total", daemon="probe") == 0
    assert value(samples, "edeposit_queue_consumers", daemon="probe", queue="probe_in") == 1

    # kill -9: the dead worker's counts stay, the new one adds to them, nothing is counted twice.
    [old_pid] = master.pids("probe")
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: master.status("probe")[1]["probe"]["pid"] not in (None, old_pid)
             and master.status("probe")[1]["probe"]["state"] == "RUNNING", timeout=30, what="a new worker")
    wait_for(lambda: value(scrape(port), "edeposit_daemon_restarts_total", daemon="probe") == 1, what="restart")
    with ThreadPoolExecutor(8) as pool:  # scrapes at once, while the dead worker's files are cleaned up
        assert all(len(result) > 50 for result in pool.map(lambda _: scrape(port), range(24)))
    samples = scrape(port)
    assert value(samples, requests, **me, outcome="ok", exception="") == 6
    assert value(samples, "edeposit_answers_published_total", **me) == 12
    publish(vhost, "probe", REQUEST_KEY, body("after"), headers={"UUID": "after-kill"})
    read_messages(vhost, "probe_out", 1)
    samples = scrape(port)
    assert value(samples, requests, **me, outcome="ok", exception="") == 7
    assert value(samples, "edeposit_handler_duration_seconds_count", **me) == 10
    assert value(samples, "edeposit_messages_in_hand", **me) == 0

    # Queue depth: with the daemon stopped, what waits in its queue is what the broker says.
    assert master.run("stop", "probe")[0] == 0
    for number in range(5):
        publish(vhost, "probe", REQUEST_KEY, body(f"waiting {number}"), headers={"UUID": f"w{number}"})
    wait_for(lambda: value(scrape(port), "edeposit_queue_messages", daemon="probe", queue="probe_in") == 5,
             what="queue depth 5")
    samples = scrape(port)
    assert value(samples, "edeposit_queue_consumers", daemon="probe", queue="probe_in") == 0
    assert rabbitmqctl_depth(vhost, "probe_in") == 5
    assert value(samples, "edeposit_process_up", **me) == 0
    assert value(samples, "edeposit_process_state", daemon="probe", process="probe", state="STOPPED") == 1

    # JSON logs: every line parses, and a failed request's UUID is on each line written while it was handled.
    lines = [json.loads(line) for line in (master.files.log_dir / "probe.log").read_text().splitlines()]
    assert {"time", "level", "daemon", "pid", "message"} <= set(lines[0])
    failed = uuids["fail"][0]
    own = [line for line in lines if line.get("UUID") == failed]
    messages = [line["message"] for line in own]
    assert any(message == f"handling {failed}" for message in messages)
    assert any("ValueError" in message for message in messages)
    assert all(line["daemon"] == "probe" for line in own)
    assert not [line for line in lines if failed in line["message"] and line.get("UUID") != failed]


def test_a_port_in_use_leaves_the_daemons_running_and_status_says_why(request: pytest.FixtureRequest) -> None:
    make = request.getfixturevalue("make_master")  # the master tests' fixture, imported above
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        master = make({"one": echo_daemon(1)}, extra=f"startsecs = 1\nmetrics_listen = 127.0.0.1:{port}")
        assert master.run("start-all")[0] == 0

        def said() -> str | None:
            code, out, _ = master.run("status")
            return out if code == 0 and f"metrics: the endpoint (127.0.0.1:{port}) is FATAL" in out else None

        wait_for(said, timeout=60, what="the exporter to give up")
        assert f"cannot listen on 127.0.0.1:{port}" in (master.files.log_dir / "metrics.log").read_text()
