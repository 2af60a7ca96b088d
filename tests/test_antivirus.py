"""The antivirus handler against real ClamAV: a private clamd and clamscan with an EICAR-only database."""

from __future__ import annotations

import base64
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemons.antivirus import handler as antivirus
from daemons.rpc.loader import HandlerError, load_handler
from daemons.rpc.settings import DaemonSettings
from daemons.testing import wait_for
from tests.fixtures.clamav import build_signature_database, eicar_bytes, private_clamd

SIGNATURE = "Eicar-Test-Signature"


def configure(tmp_path: Path, **options: Any) -> None:
    """Load the handler as the worker does: options validated by OPTIONS_SPEC, then configure()."""
    settings = DaemonSettings(
        name="antivirus", handler="daemons.antivirus.handler:react", vhost="antivirus", exchange="antivirus",
        input_queue="daemon", output_queue="plone", input_key="request", output_key="result",
        options={key: str(value) for key, value in options.items()},
        data_dir=tmp_path / "state" / "antivirus", state_dir=tmp_path / "state",
    )
    load_handler(settings)


def scan(filename: str, content: bytes) -> Any:
    return antivirus.react(antivirus.ScanFile(filename, base64.b64encode(content).decode()), [].append)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return build_signature_database(tmp_path / "db", {SIGNATURE: eicar_bytes()})


@pytest.fixture
def clamd_socket(tmp_path: Path, database: Path) -> Iterator[Path]:
    with private_clamd(tmp_path / "clamd", database) as socket_path:
        yield socket_path


@pytest.fixture
def missing(tmp_path: Path) -> Path:
    return tmp_path / "does-not-exist"


def test_clamd_finds_eicar_without_clamscan(tmp_path: Path, clamd_socket: Path, missing: Path) -> None:
    configure(tmp_path, clamd_socket=clamd_socket, clamscan=missing)
    answer = scan("eicar.com", eicar_bytes())
    assert answer == antivirus.ScanResult("eicar.com", {"eicar.com": ["FOUND", f"{SIGNATURE}.UNOFFICIAL"]})


def test_clamd_reports_clean_file_as_empty_result(tmp_path: Path, clamd_socket: Path, missing: Path) -> None:
    configure(tmp_path, clamd_socket=clamd_socket, clamscan=missing)
    clean = eicar_bytes().replace(b"EICAR", b"CLEAN") * 1000
    assert scan("book.epub", clean) == antivirus.ScanResult("book.epub", {})


def test_clamscan_finds_eicar_when_no_clamd_answers(tmp_path: Path, database: Path, missing: Path) -> None:
    configure(tmp_path, clamd_socket=missing, database_dir=database)
    assert scan("eicar.txt", eicar_bytes()).result == {"eicar.txt": ["FOUND", f"{SIGNATURE}.UNOFFICIAL"]}


def test_clamscan_reports_clean_file_as_empty_result(tmp_path: Path, database: Path) -> None:
    configure(tmp_path, clamd_socket="", database_dir=database)
    assert scan("clean.txt", b"just a book\n").result == {}


def test_clamd_stream_limit_is_an_error_naming_the_setting(tmp_path: Path, database: Path) -> None:
    with private_clamd(tmp_path / "small", database, stream_max_bytes=1024 * 1024) as socket_path:
        configure(tmp_path, clamd_socket=socket_path)
        with pytest.raises(Exception, match="StreamMaxLength"):
            scan("big.pdf", b"x" * (3 * 1024 * 1024))


def test_missing_clamav_is_named_with_the_install_command(tmp_path: Path, missing: Path) -> None:
    configure(tmp_path, clamd_socket=missing, clamscan=missing)
    note = antivirus.health()
    assert note is not None and note.startswith(f"{missing} not found: apt-get install clamav")
    assert f"clamd does not answer on {missing} (apt-get install clamav-daemon" in note
    with pytest.raises(antivirus.BackendUnavailable) as raised:
        scan("a.txt", b"a")
    assert str(raised.value) == note


def test_empty_database_dir_asks_for_freshclam(tmp_path: Path, missing: Path) -> None:
    empty = tmp_path / "empty-db"
    empty.mkdir()
    configure(tmp_path, clamd_socket=missing, database_dir=empty)
    note = antivirus.health()
    assert note is not None and f"no ClamAV signature database in {empty}: run freshclam" in note


def test_health_is_quiet_when_clamd_answers(tmp_path: Path, clamd_socket: Path, missing: Path) -> None:
    configure(tmp_path, clamd_socket=clamd_socket, clamscan=missing)
    assert antivirus.health() is None


def test_bad_base64_is_refused_with_the_field_name(tmp_path: Path, clamd_socket: Path) -> None:
    configure(tmp_path, clamd_socket=clamd_socket)
    with pytest.raises(antivirus.BadRequest, match="ScanFile.b64_data is not valid base64"):
        antivirus.react(antivirus.ScanFile("x", "a"), [].append)


def test_bad_timeout_option_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(HandlerError, match=r"\[\[\[options\]\]\] timeout = 'soon'"):
        configure(tmp_path, timeout="soon")


def test_update_database_without_freshclam_option_says_how_to_enable_it(tmp_path: Path) -> None:
    configure(tmp_path, clamd_socket="")
    with pytest.raises(antivirus.UpdateNotConfigured, match="freshclam = /usr/bin/freshclam"):
        antivirus.react(antivirus.UpdateDatabase(), [].append)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server standing in for a signature mirror: (base URL, directory it serves)."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def freshclam_config(tmp_path: Path, base_url: str) -> Path:
    """Fetch only a custom database from the local mirror: no official databases, no DNS, one attempt."""
    config = tmp_path / "freshclam.conf"
    config.write_text(
        f"DatabaseOwner root\nPrivateMirror {base_url}\nDNSDatabaseInfo no\nMaxAttempts 1\n"
        "ExcludeDatabase daily\nExcludeDatabase main\nExcludeDatabase bytecode\n"
        f"DatabaseCustomURL {base_url}/fresh.hdb\n"
    )
    return config


def test_update_database_loads_new_signatures_into_clamd(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, served = mirror
    database = build_signature_database(tmp_path / "db", {"Old-Signature": b"an older threat"})
    build_signature_database(tmp_path / "fresh", {SIGNATURE: eicar_bytes()})
    (tmp_path / "fresh" / "edeposit-test.hdb").rename(served / "fresh.hdb")
    with private_clamd(tmp_path / "clamd", database) as socket_path:
        configure(tmp_path, clamd_socket=socket_path, database_dir=database, freshclam="freshclam",
                  freshclam_config=freshclam_config(tmp_path, base_url))
        assert scan("eicar.txt", eicar_bytes()).result == {}
        answer = antivirus.react(antivirus.UpdateDatabase(), [].append)
        assert isinstance(answer, antivirus.DatabaseUpdated)
        assert "fresh.hdb updated" in answer.log and "RELOADING" in answer.log
        wait_for(lambda: scan("eicar.txt", eicar_bytes()).result, timeout=30, what="clamd to reload")
        assert scan("eicar.txt", eicar_bytes()).result == {"eicar.txt": ["FOUND", f"{SIGNATURE}.UNOFFICIAL"]}


def test_update_database_failure_carries_freshclam_output(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, _ = mirror  # serves nothing: the custom database is missing
    database = tmp_path / "db"
    database.mkdir()
    configure(tmp_path, clamd_socket="", database_dir=database, freshclam="freshclam",
              freshclam_config=freshclam_config(tmp_path, base_url))
    with pytest.raises(RuntimeError, match="failed with exit status") as raised:
        antivirus.react(antivirus.UpdateDatabase(), [].append)
    assert f"{base_url}/fresh.hdb" in str(raised.value)
