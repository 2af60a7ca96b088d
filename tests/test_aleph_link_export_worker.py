"""aleph_link_export through the real worker and broker, with a worker restart between request and result."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemons.aleph_link_export import handler as handler
from daemons.aleph_link_export.files import OUTGOING_NAME
from daemons.rpc.client import RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config

REGISTRY = StructureRegistry.from_modules([handler])


@pytest.mark.slow
def test_results_written_by_aleph_reach_the_client_after_a_restart(vhost: str, state_dir: Path,
                                                                   tmp_path: Path) -> None:
    outgoing, incoming = tmp_path / "edep2aleph", tmp_path / "aleph2edep"
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"aleph_link_export": {
        "options": {"outgoing_dir": str(outgoing), "incoming_dir": str(incoming)}}})
    requests = [handler.LinkUpdateRequest("uuid-1", "000000001", ["https://e.example/1.pdf"], None, None, "s-1"),
                handler.LinkUpdateRequest("uuid-2", "000000002", [handler.LinkDescription("https://e.example/2",
                                                                                          "epub")], None, None, "s-2")]
    with running_worker(config, "aleph_link_export", tmp_path / "worker1.log"), \
            RPCClient(BROKER, vhost, "update-links", registry=REGISTRY) as client:
        assert [client.call(request, timeout=20) for request in requests] == [None, None]
    assert (outgoing / OUTGOING_NAME).read_text().count("<record ") == 2

    (incoming / "answer.xml").write_text('<results><result session_id="s-1"><status>OK</status></result>'
                                         '<result session_id="s-2"><status>ERROR</status><reason>locked</reason>'
                                         '</result></results>')
    with running_worker(config, "aleph_link_export", tmp_path / "worker2.log"), \
            RPCClient(BROKER, vhost, "update-links", registry=REGISTRY) as client:
        progress: list[object] = []
        final = client.call(b'{"__nt_name": "StatusRequest"}', timeout=20, progress=progress.append)
    assert progress == [handler.LinkUpdateResponse("OK", "s-1", None)]
    assert final == handler.LinkUpdateResponse("ERROR", "s-2", "locked")
    assert "<record " not in (outgoing / OUTGOING_NAME).read_text()
    assert not (incoming / "answer.xml").exists()
