"""Answers the broker refuses (basic.nack): published again until it takes them, or the request goes back.

A real broker refuses for real: a policy gives the daemon's output queue `max-length 0` with
`overflow reject-publish`, so the broker nacks every answer routed there, as a quorum queue without a
leader does for a moment after a node died. One real worker process per test, a throwaway vhost per test.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.testing import WorkerProcess, publish, queue_state, read_messages, running_worker, wait_for, write_config

CORE = {
    "handler": "tests.handlers.core_behaviours:react",
    "exchange": "core",
    "input_queue": "core_in",
    "output_queue": "core_out",
}
POLICY = "refuse-answers"


def refuse_answers(vhost: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "set_policy", "-p", vhost, "--apply-to", "queues", POLICY, "^core_out$",
                    json.dumps({"max-length": 0, "overflow": "reject-publish"})], check=True, capture_output=True)


def take_answers(vhost: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "clear_policy", "-p", vhost, POLICY], check=True, capture_output=True)


@pytest.fixture
def worker(vhost: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"core": CORE})
    with running_worker(config, "core", tmp_path / "core.log") as process:
        yield process


def ping(vhost: str, uuid: str) -> None:
    publish(vhost, "core", "request", json.dumps({"text": uuid, "__nt_name": "Ping"}).encode(), {"UUID": uuid})


def test_a_refused_answer_is_published_again_until_the_broker_takes_it(vhost, worker):
    refuse_answers(vhost)
    ping(vhost, "refused-then-taken")
    wait_for(lambda: "publishing it again" in worker.log(), what="the worker to retry the refused answer")
    take_answers(vhost)
    [(_, properties, body)] = read_messages(vhost, "core_out", 1)
    assert properties.headers["UUID"] == "refused-then-taken"
    assert json.loads(body) == {"text": "refused-then-taken", "__nt_name": "Pong"}
    wait_for(lambda: "the broker took the answer at attempt" in worker.log(), what="the answer to be confirmed")
    wait_for(lambda: queue_state(vhost, "core_in") == (0, 1), what="the request to be acked")
    ping(vhost, "after")  # the worker goes on with the next request
    [(_, properties, _)] = read_messages(vhost, "core_out", 1)
    assert properties.headers["UUID"] == "after"
    assert queue_state(vhost, "core_out") == (0, 0), "one answer per request"


def test_a_worker_stopped_while_its_answer_is_refused_gives_the_request_back(vhost, worker):
    refuse_answers(vhost)
    ping(vhost, "given-back")
    wait_for(lambda: "publishing it again" in worker.log(), what="the worker to retry the refused answer")
    worker.signal(signal.SIGTERM)
    assert worker.stop() == 0
    assert "the request goes back to its queue" in worker.log()
    take_answers(vhost)
    assert queue_state(vhost, "core_in") == (1, 0), "the request is back in its queue, not acked"
    assert queue_state(vhost, "core_out") == (0, 0)


def test_an_answer_refused_past_refused_retry_seconds_becomes_an_error_answer_then_the_request_goes_back(
        vhost, tmp_path):
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state",
                          {"core": {**CORE, "refused_retry_seconds": 0.5}})
    with running_worker(config, "core", tmp_path / "core.log") as worker:
        refuse_answers(vhost)
        ping(vhost, "refused-for-long")
        wait_for(lambda: "the request goes back to its queue" in worker.log(), what="the request to be given back")
        log = worker.log()
        assert log.index("publishing it again") < log.index("answering with an error instead") \
            < log.index("the broker refused the error answer too")
        take_answers(vhost)
        # Given back, the request comes again and is answered once the broker takes answers: by its Pong, or
        # by the error answer if the policy went while that one was being refused.
        [(_, properties, body)] = read_messages(vhost, "core_out", 1)
        assert properties.headers["UUID"] == "refused-for-long"
        error = properties.headers.get("exception_name")
        assert error == "AnswerRefusedError" or json.loads(body)["__nt_name"] == "Pong", (properties.headers, body)
        wait_for(lambda: queue_state(vhost, "core_in") == (0, 1), what="the request to be acked")
        assert queue_state(vhost, "core_out") == (0, 0), "one answer per request"
