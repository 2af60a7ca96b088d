"""ltp end to end: a real worker process exports a package and tracks it through the real broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemons.ltp import handler as ltp
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config
from tests.test_ltp import BOOK, PDF, request


@pytest.mark.slow
def test_worker_exports_a_package_and_reports_its_pickup(vhost: str, state_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"ltp": {}})
    export_dir = state_dir / "ltp" / "export"
    with running_worker(config, "ltp", tmp_path / "worker.log"), \
            RPCClient(BROKER, vhost, "ltp", registry=StructureRegistry.from_modules([ltp])) as client:
        exported = client.call(request(), timeout=30)
        waiting = client.call(ltp.TrackingRequest(BOOK), timeout=30)
        (export_dir / f"{BOOK}.ok").touch()
        picked_up = client.call(ltp.TrackingRequest(BOOK), timeout=30)
        with pytest.raises(RemoteError) as escaped:
            client.call(request(book_uuid="../../escape"), timeout=30)

    assert exported is True
    assert (export_dir / BOOK / "data" / "kniha.pdf").read_bytes() == PDF
    assert waiting == ltp.TrackingResponse(BOOK, False, None)
    assert picked_up == ltp.TrackingResponse(BOOK, True, None)
    assert escaped.value.exception_name == "BadNameError"
    assert not (tmp_path / "escape").exists() and not (state_dir / "escape").exists()
