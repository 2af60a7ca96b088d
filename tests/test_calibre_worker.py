"""The calibre daemon end to end: a conversion request through a real worker, broker and ebook-convert."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from daemons.calibre import handler as calibre
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config

REGISTRY = StructureRegistry.from_modules([calibre])
TEXT = "Žádost o převod: kniha pro e-deposit."

pytestmark = pytest.mark.slow


def test_conversion_request_gets_epub_and_protocol(tmp_path: Path, vhost: str, state_dir: Path) -> None:
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"calibre": {}})
    message = calibre.ConversionRequest("txt", "epub", base64.b64encode(TEXT.encode()).decode())
    with running_worker(config, "calibre", tmp_path / "calibre.log"), \
            RPCClient(BROKER, vhost, "convert", registry=REGISTRY) as client:
        answer = client.call(message, timeout=120)
    assert isinstance(answer, calibre.ConversionResponse) and answer.format == "epub"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.b64_data))) as book:
        assert book.read("mimetype") == b"application/epub+zip"
        assert any(TEXT in book.read(name).decode() for name in book.namelist() if name.endswith("html"))
    assert "Output saved to" in answer.protocol


def test_daemon_without_calibre_runs_and_names_what_to_install(tmp_path: Path, vhost: str, state_dir: Path) -> None:
    missing = tmp_path / "ebook-convert"
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir,
                          {"calibre": {"options": {"ebook_convert": missing}}})
    with running_worker(config, "calibre", tmp_path / "calibre.log"), \
            RPCClient(BROKER, vhost, "convert", registry=REGISTRY) as client:
        with pytest.raises(RemoteError) as raised:
            client.call(calibre.ConversionRequest("txt", "epub", "YQ=="), timeout=30)
    note = (state_dir / "notes" / "calibre.txt").read_text().strip()
    assert note == f"{missing} not found: apt-get install calibre (or set ebook_convert)"
    assert raised.value.exception_name == "BackendUnavailable" and raised.value.exception == note
