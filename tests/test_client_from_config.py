"""The production client: built from the INI (password from password_file), it calls a real worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemons.rpc.client import RemoteError, RPCClient
from daemons.testing import BROKER, running_worker, write_config
from orchestrator.config import load
from tests.handlers import master_echo


def test_a_client_built_from_the_ini_calls_the_daemon_with_its_credentials(vhost: str, tmp_path: Path) -> None:
    secret = tmp_path / "amqp-password"
    secret.write_text(BROKER.password + "\n")
    secret.chmod(0o600)
    config_path = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state",
                               {"one": {"handler": "tests.handlers.master_echo:react", "exchange": "echo"}})
    config_path.write_text(config_path.read_text().replace("[amqp]\n", f"[amqp]\npassword_file = {secret}\n"))
    config = load(config_path)
    assert config.amqp.password == BROKER.password
    with running_worker(config_path, "one", tmp_path / "one.log"), \
            RPCClient.for_daemon(config.amqp, config.daemon("one")) as rpc:
        answer = rpc.call(master_echo.Ping("hi"))
        assert answer == master_echo.Ping("hi") and type(answer).__name__ == "Ping"
        with pytest.raises(RemoteError):
            rpc.call(b"not json")
