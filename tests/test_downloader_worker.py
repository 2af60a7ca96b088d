"""The downloader as a real worker process on a throwaway vhost, answering over AMQP."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from daemons.downloader import handler as downloader
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config
from tests.test_downloader import LocalServer, payload, send_bytes


@pytest.mark.slow
def test_worker_streams_progress_then_the_file_and_refuses_file_urls(vhost: str, tmp_path: Path) -> None:
    data = payload(2_000_000)
    server = LocalServer()
    server.routes["/book.pdf"] = send_bytes(data)
    server.thread.start()
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state",
                          {"downloader": {"options": {"allow_private_networks": "true"}}})
    try:
        with running_worker(config, "downloader", tmp_path / "downloader.log"), \
                RPCClient(BROKER, vhost, "downloader", registry=StructureRegistry.from_modules([downloader])) as rpc:
            progress: list = []
            answer = rpc.call(downloader.ProgressDownload(server.url("/book.pdf"), 3), progress=progress.append)
            assert base64.b64decode(answer.b64_data) == data
            assert [p.step for p in progress][-1] == 3
            assert all(isinstance(p, downloader.Progress) for p in progress)
            exists = rpc.call(downloader.CheckExistence(server.url("/book.pdf")))
            assert exists.result is True and exists.headers["Content-Length"] == str(len(data))
            with pytest.raises(RemoteError) as refused:
                rpc.call(downloader.Download("file:///etc/passwd"))
            assert refused.value.exception_name == "URLRefused"
            assert "use http:// or https://" in refused.value.exception
    finally:
        server.close()
