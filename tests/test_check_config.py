"""check-config names every problem of a config in one run, in prose, each line starting with the file."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from daemons.downloader import handler as downloader
from daemons.rpc.client import RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config
from orchestrator.config import ConfigError, load
from tests.test_downloader import LocalServer, send_bytes

ECHO = "tests.handlers.master_echo:react"
# As root the daemons would run as the `edeposit` user; these configs keep them with the master's user.
OWN_USER = '[orchestrator]\nuser = ""\n'


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EDEPOSIT_AMQPD_CONFIG"}
    return subprocess.run([sys.executable, "-m", "orchestrator", "-c", str(path), "check-config"],
                          capture_output=True, text=True, env=env, timeout=60)


BROKEN = """\
[amqp]
port = 70000
hots = localhost
password_file = {secret_dir}
[orchestrator]
user = ""
state_dir = {state_file}
startsecs = soon
[daemons]
  [[calibr]]
  [[aleph]]
  prefetch = lots
  [[downloader]]
    [[[options]]]
    max_redirect = 3
    timeout = fast
  [[mine]]
  handler = no_such_module:react
  vhost = v
  exchange = e
  [[yours]]
  handler = tests.handlers.master_echo:react
  vhost = v
  exchange = e
  structures = no_such_structures,
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    (tmp_path / "secrets").mkdir(mode=0o700)
    (tmp_path / "state-file").write_text("not a directory\n")
    path = tmp_path / "broken.ini"
    path.write_text(BROKEN.format(secret_dir=tmp_path / "secrets", state_file=tmp_path / "state-file"))
    return path


def test_every_problem_is_named_in_one_run(broken: Path) -> None:
    done = check_config(broken)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    expected = [
        "[amqp] port = '70000': too big; expected a whole number from 1 to 65535",
        "[amqp]: unknown key 'hots' (did you mean host?); expected one of: ",
        "[orchestrator] startsecs = 'soon': not valid; expected a whole number from 0 to 3600",
        "[daemons] [[aleph]] prefetch = 'lots': not valid; expected a whole number from 1 to 1000",
        "[daemons] [[calibr]]: not a built-in daemon, and it names no handler: did you mean calibre?",
        "[daemons] [[downloader]] [[[options]]] timeout = 'fast': not valid; expected a number of at least 0.01",
        "[daemons] [[downloader]] [[[options]]]: unknown option 'max_redirect' (did you mean max_redirects?)",
        "[daemons] [[mine]] handler = 'no_such_module:react': cannot import: ModuleNotFoundError",
        "[daemons] [[yours]] structures: 'no_such_structures' cannot be imported: ModuleNotFoundError",
        f"[amqp] password_file = '{broken.parent / 'secrets'}': a directory; expected a file holding the password",
    ]
    for text in expected:
        assert any(line.startswith(f"{broken}: {text}") for line in lines), (text, done.stderr)
    assert lines[-1] == f"{broken}: {len(lines) - 1} problems found"


def test_every_line_starts_with_the_file_and_shows_no_configspec_syntax(broken: Path) -> None:
    done = check_config(broken)
    assert done.returncode == 2 and done.stderr
    for line in done.stderr.splitlines():
        assert line.startswith(f"{broken}: "), line
        assert not re.search(r"\b(integer|float|boolean|string|option|string_list)\(|default=|min=|max=", line), line
    for line in done.stderr.splitlines():
        if "=" in line.split(": ", 2)[1] and "unknown" not in line and "[[calibr]]" not in line:
            assert "; expected " in line, line


def test_state_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    path = tmp_path / "a.ini"
    path.write_text(f"{OWN_USER}state_dir = {tmp_path / 'plain'}\n")
    done = check_config(path)
    assert done.returncode == 2
    assert f"{path}: [orchestrator] state_dir = '{tmp_path / 'plain'}': not a directory" in done.stderr


def test_a_near_miss_that_names_a_handler_is_a_daemon_of_its_own(tmp_path: Path, state_dir: Path) -> None:
    path = tmp_path / "a.ini"
    path.write_text(f"{OWN_USER}state_dir = {state_dir}\n[daemons]\n  [[calibr]]\n  handler = {ECHO}\n"
                    f"  vhost = v\n  exchange = e\n")
    done = check_config(path)
    assert done.returncode == 0, done.stderr
    assert "calibr" in done.stdout and "13 enabled daemons" in done.stdout


def test_a_single_network_with_a_trailing_comma_is_a_list(tmp_path: Path, state_dir: Path) -> None:
    path = tmp_path / "a.ini"
    path.write_text(f"{OWN_USER}state_dir = {state_dir}\n[daemons]\n  [[downloader]]\n    [[[options]]]\n"
                    f"    allowed_networks = 127.0.0.2/32,\n")
    done = check_config(path)
    assert done.returncode == 0, done.stderr
    path.write_text(path.read_text().replace("127.0.0.2/32,", "127.0.0.2/32"))
    assert check_config(path).returncode == 0
    path.write_text(path.read_text().replace("127.0.0.2/32", "127.0.0.2/32, 10.0.0.0/8"))
    assert check_config(path).returncode == 0
    path.write_text(path.read_text() + "    timeout = 1, 2\n")
    done = check_config(path)
    assert "timeout = ['1', '2']: a list (the value has a comma; put it in quotes" in done.stderr
    assert "expected a number of at least 0.01" in done.stderr


def test_load_still_refuses_what_check_config_reports(broken: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(broken)
    assert "did you mean calibre?" in str(caught.value)
    assert "mine" in caught.value.daemons


def test_a_downloader_worker_allows_the_network_listed_with_a_trailing_comma(vhost: str, tmp_path: Path) -> None:
    server = LocalServer("127.0.0.2")
    server.routes["/book.pdf"] = send_bytes(b"%PDF from the intranet mirror")
    server.thread.start()
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state",
                          {"downloader": {"options": {"allowed_networks": "127.0.0.2/32,"}}})
    try:
        with running_worker(config, "downloader", tmp_path / "downloader.log"), \
                RPCClient(BROKER, vhost, "downloader", registry=StructureRegistry.from_modules([downloader])) as rpc:
            answer = rpc.call(downloader.Download(server.url("/book.pdf")))
            assert base64.b64decode(answer.b64_data) == b"%PDF from the intranet mirror"
    finally:
        server.close()


def test_a_handler_reference_that_is_wrong_says_what_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "a.ini"
    path.write_text(OWN_USER + "[daemons]\n  [[a1]]\n  handler = nocolon\n  vhost = v\n  exchange = e\n"
                    f"  [[a2]]\n  handler = {ECHO.replace(':react', ':nothing')}\n  vhost = v\n  exchange = e\n")
    done = check_config(path)
    assert done.returncode == 2
    assert f"{path}: [daemons] [[a1]] handler = 'nocolon': expected 'module:callable'" in done.stderr
    assert (f"{path}: [daemons] [[a2]] handler = 'tests.handlers.master_echo:nothing': tests.handlers.master_echo "
            f"has no callable 'nothing'; expected module:callable naming a function of that module") in done.stderr


def test_a_problem_of_ftp_monitors_own_keys_is_named_once(tmp_path: Path) -> None:
    path = tmp_path / "a.ini"
    path.write_text(OWN_USER + "[daemons]\n  [[ftp_monitor]]\n  log_format = weird\n"
                    "    [[[options]]]\n    start_at = middle\n")
    done = check_config(path)
    assert done.returncode == 2
    assert done.stderr.count("log_format = 'weird'") == 1
    assert "expected one of: edeposit, legacy" in done.stderr
    assert "[[[options]]] start_at = 'middle': not one of the allowed values; expected one of: beginning, end" \
        in done.stderr
