"""The antivirus daemon end to end: an old client's message through a real worker, broker and clamd."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemons.antivirus import handler as antivirus
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config
from tests.fixtures.clamav import build_signature_database, eicar_bytes, private_clamd
from tests.fixtures.wire_files import WIRE

REGISTRY = StructureRegistry.from_modules([antivirus])

pytestmark = pytest.mark.slow


def test_old_client_scanfile_message_gets_eicar_found(tmp_path: Path, vhost: str, state_dir: Path) -> None:
    database = build_signature_database(tmp_path / "db", {"Eicar-Test-Signature": eicar_bytes()})
    with private_clamd(tmp_path / "clamd", database) as socket_path:
        config = write_config(tmp_path / "amqpd.ini", vhost, state_dir,
                              {"antivirus": {"options": {"clamd_socket": socket_path, "clamscan": "/nonexistent"}}})
        with running_worker(config, "antivirus", tmp_path / "antivirus.log"), \
                RPCClient(BROKER, vhost, "antivirus", registry=REGISTRY) as client:
            answer = client.call((WIRE / "antivirus-scanfile-eicar.json").read_bytes(), timeout=30)
    assert answer == antivirus.ScanResult("eicar.txt", {"eicar.txt": ["FOUND", "Eicar-Test-Signature.UNOFFICIAL"]})


def test_daemon_without_clamav_runs_and_names_what_to_install(tmp_path: Path, vhost: str, state_dir: Path) -> None:
    missing = tmp_path / "missing"
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir,
                          {"antivirus": {"options": {"clamd_socket": missing, "clamscan": missing}}})
    with running_worker(config, "antivirus", tmp_path / "antivirus.log"), \
            RPCClient(BROKER, vhost, "antivirus", registry=REGISTRY) as client:
        with pytest.raises(RemoteError) as raised:
            client.call(antivirus.ScanFile("a.txt", "YQ=="), timeout=30)
    note = (state_dir / "notes" / "antivirus.txt").read_text().strip()
    assert note.startswith(f"{missing} not found: apt-get install clamav")
    assert raised.value.exception_name == "BackendUnavailable" and raised.value.exception == note
