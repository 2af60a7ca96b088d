"""The storage daemon as a real worker process: an old client's JSON message saved and found again."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.storage import handler as storage
from daemons.testing import BROKER, running_worker, write_config

OLD_CLIENT_SAVE = {
    "__nt_name": "SaveRequest",
    "record": {
        "__nt_name": "Publication", "title": "Babička", "author": "Božena Němcová", "pub_year": "1855",
        "isbn": "80-7304-000-1", "urnnbn": None, "uuid": "9c1e-old-client", "aleph_id": None, "producent_id": None,
        "is_public": True, "filename": "babicka.epub", "is_periodical": False, "path": None,
        "b64_data": base64.b64encode("Byla jednou jedna babička".encode()).decode(), "url": None,
        "file_pointer": None,
    },
}


@pytest.mark.slow
def test_worker_saves_an_old_clients_publication_and_finds_it_by_isbn(vhost: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = write_config(tmp_path / "amqpd.ini", vhost, state,
                          {"storage": {"options": {"public_url": "http://127.0.0.1:8080/edeposit"}}})
    with running_worker(config, "storage", tmp_path / "storage.log"), \
            RPCClient(BROKER, vhost, "export", registry=StructureRegistry.from_modules([storage])) as rpc:
        stored = rpc.call(json.dumps(OLD_CLIENT_SAVE).encode())
        assert isinstance(stored, storage.Publication)
        assert Path(stored.file_pointer).is_relative_to(state / "storage" / "public")
        assert stored.url.startswith("http://127.0.0.1:8080/edeposit/") and stored.url.endswith(".epub")
        query = storage.Publication(*[None] * 15)._replace(isbn="80-7304-000-1")
        [found] = rpc.call(storage.SearchRequest(query, False)).records
        assert base64.b64decode(found.b64_data).decode() == "Byla jednou jedna babička"
        with pytest.raises(RemoteError) as refused:
            rpc.call(storage.SaveRequest(query._replace(is_public="ano")))
        assert "Publication.is_public = 'ano'" in refused.value.exception
