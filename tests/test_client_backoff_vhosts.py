"""The RPC client's failure modes, reconnect backoff, and vhost administration over HTTP."""

from __future__ import annotations

import random
import uuid

import pytest

from daemons.rpc.backoff import Backoff
from daemons.rpc.client import RPCClient, RPCTimeout
from daemons.rpc.vhosts import ManagementAdmin, VhostError
from daemons.testing import BROKER, queue_state

MANAGEMENT_URL = "http://127.0.0.1:15672"


def test_backoff_doubles_up_to_the_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(initial=0.5, cap=4.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(7)]
    ceilings = [0.5, 1, 2, 4, 4, 4, 4]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays), "jitter spreads workers out"
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_call_without_a_worker_times_out(vhost: str) -> None:
    with RPCClient(BROKER, vhost, "amq.topic") as client:
        with pytest.raises(RPCTimeout, match="no answer from amq.topic/request within 0.3 s"):
            client.call({"x": 1}, timeout=0.3)


@pytest.fixture
def management(broker: object) -> ManagementAdmin:
    admin = ManagementAdmin(MANAGEMENT_URL, BROKER.user, BROKER.password)
    try:
        admin.list_vhosts()
    except VhostError as exc:
        pytest.fail(f"the management plugin must be enabled for this test (make test enables it): {exc}")
    return admin


def test_management_api_creates_and_deletes_a_vhost(management: ManagementAdmin) -> None:
    name = f"edeposit-test-http-{uuid.uuid4().hex[:8]}"
    try:
        assert management.create(name, BROKER.user) is True
        assert name in management.list_vhosts()
        assert management.create(name, BROKER.user) is False, "creating twice is harmless"
        assert queue_state(name, "nothing") == (-1, -1), "the user may connect to the new vhost"
    finally:
        management.delete(name)
    assert name not in management.list_vhosts()


def test_management_api_error_names_the_url_and_status() -> None:
    admin = ManagementAdmin(MANAGEMENT_URL, "guest", "wrong-password")
    with pytest.raises(VhostError, match=r"GET http://127.0.0.1:15672/api/vhosts: HTTP 401"):
        admin.list_vhosts()
