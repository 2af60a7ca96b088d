"""The monitor behind a real ProFTPD (the lines `proftpd-config` prints) and a real FTP client (ftplib)."""

from __future__ import annotations

import base64
import contextlib
import ftplib
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemons.ftp_manager.homes import create_home
from daemons.ftp_manager.users import FtpUser, hash_password, write_users
from daemons.rpc.wire import StructureRegistry, deserialize
from daemons.testing import BROKER, wait_for
from ftp_monitor import structures
from ftp_monitor.monitor import Monitor
from ftp_monitor.options import load_options
from tests.fixtures.ftp_log import QueueReader, monitor_settings
from tests.fixtures.proftpd_server import ProFTPDServer, ftp_home_root, proftpd_server

pytestmark = pytest.mark.slow
LOCK = "delete_me_to_import_files.txt"
REGISTRY = StructureRegistry.from_modules([structures])
PASSWORD = "tajne-heslo-1"
UID = 2000


@dataclass
class Stack:
    server: ProFTPDServer
    home: Path
    events: QueueReader
    results: QueueReader


@pytest.fixture
def stack(request: pytest.FixtureRequest, vhost: str, tmp_path: Path) -> Iterator[Stack]:
    log_format = getattr(request, "param", "edeposit")
    passwd_file = tmp_path / "ftpd.passwd"
    log_file = tmp_path / "extended.log"
    with ftp_home_root() as home_root, \
            proftpd_server(tmp_path, log_file, passwd_file, home_root, log_format=log_format) as server:
        home, _ = create_home(home_root, "alice", UID, UID, LOCK)
        write_users(passwd_file, [FtpUser("alice", hash_password(PASSWORD, rounds=1000), UID, UID, "", str(home),
                                          "/bin/false")])
        settings = monitor_settings(vhost, tmp_path / "state", log_file, home_root, passwd_file,
                                    events="true", event_queue="test-events", start_at="beginning")
        settings.options["log_format"] = log_format
        events = QueueReader(BROKER, vhost, "ftp", "test-events", ["event.#"])
        results = QueueReader(BROKER, vhost, "ftp", "plone", ["result"])
        monitor = Monitor(settings, BROKER, load_options(settings))
        thread = threading.Thread(target=monitor.run, daemon=True)
        thread.start()
        try:
            yield Stack(server, home, events, results)
        finally:
            monitor.stop()
            thread.join(15)
            events.close()
            results.close()


@contextlib.contextmanager
def session(server: ProFTPDServer) -> Iterator[ftplib.FTP]:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", server.port, timeout=10)
    ftp.login("alice", PASSWORD)
    try:
        yield ftp
    finally:
        ftp.quit()


def test_upload_rename_and_delete_over_ftp_become_events(stack):
    with session(stack.server) as ftp:
        ftp.storbinary("STOR draft.pdf", io.BytesIO(b"%PDF-1.4 draft"))
        ftp.rename("draft.pdf", "final.pdf")
        ftp.delete("final.pdf")
    received = stack.events.wait_for(3)
    kinds = [deserialize(r.body, REGISTRY) for r in received]
    assert [k.event for k in kinds] == ["uploaded", "renamed", "deleted"]
    assert kinds[0].size == len(b"%PDF-1.4 draft") and kinds[0].username == "alice"
    assert Path(kinds[1].path).name == "draft.pdf" and Path(kinds[1].new_path).name == "final.pdf"
    assert len({r.message_id for r in received}) == 3


@pytest.mark.parametrize("stack", ["edeposit", "legacy"], indirect=True)
def test_uploads_then_lock_deletion_give_an_import_request_with_the_exact_bytes(stack):
    ebook = os.urandom(50_000)
    metadata = json.dumps({"ISBN": "80-86056-31-7", "Vazba": "online", "Název": "Zkouška", "Místo vydání": "Praha",
                           "Nakladatel": "NK", "Datum vydání": "11/2026", "Pořadí vydání": "1",
                           "Zpracovatel záznamu": "test"}, ensure_ascii=False).encode("utf-8")
    with session(stack.server) as ftp:
        ftp.storbinary("STOR kniha.epub", io.BytesIO(ebook))
        ftp.storbinary("STOR kniha.json", io.BytesIO(metadata))
        ftp.storbinary("STOR samotna.pdf", io.BytesIO(b"%PDF alone"))
        ftp.delete(LOCK)
    [received] = stack.results.wait_for(1)
    request = deserialize(received.body, REGISTRY)
    assert request.username == "alice"
    pairs = [item for item in request.requests if type(item).__name__ == "DataPair"]
    singles = [item for item in request.requests if type(item).__name__ == "EbookFile"]
    assert len(pairs) == 1 and [s.filename for s in singles] == ["samotna.pdf"]
    assert base64.b64decode(pairs[0].ebook_file.b64_data) == ebook
    assert base64.b64decode(pairs[0].metadata_file.b64_data) == metadata
    assert pairs[0].metadata_file.parsed_data.nazev == "Zkouška"
    wait_for(lambda: (stack.home / LOCK).exists(), what="the lock file to come back")
    assert not (stack.home / "kniha.epub").exists()
    with session(stack.server) as ftp:
        listing = ftp.nlst()
        log_text = io.BytesIO()
        ftp.retrbinary("RETR import.log.txt", log_text.write)
    assert LOCK in listing and "kniha.epub" in log_text.getvalue().decode("utf-8")
    assert stack.results.drain() == [received]
