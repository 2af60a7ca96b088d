"""Each option the old scripts had works as documented: ftp_monitord -n, harvester -r and -u, the old tool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pika
import pytest

from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.testing import BROKER, bound_queue, queue_state, read_messages, write_config
from tests.fixtures.feeds import SampleTitle, opds_feed
from tests.fixtures.ftp_log import QueueReader, SessionWriter, edeposit_record
from tests.fixtures.wire_files import WIRE

BIN = Path(sys.executable).parent
TITLES = [SampleTitle("Babička", "Božena Němcová", "9788020405230"), SampleTitle("Máj", "Karel Hynek Mácha")]


def run(script: str, *args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / script), *args], capture_output=True, text=True, timeout=90, env=env, input=stdin)


def environment(config: Path, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "EDEPOSIT_AMQPD_CONFIG": str(config), "HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}


# -- edeposit_amqp_ftp_monitord.py -n FILE ------------------------------------------------------------
def ftp_config(tmp_path: Path, vhost: str) -> Path:
    homes = tmp_path / "homes"
    homes.mkdir()
    extra = (f"[ftp]\npasswd_file = {tmp_path / 'ftpd.passwd'}\nhome_root = {homes}\n"
             f"proftpd_pidfile = {tmp_path / 'proftpd.pid'}\nlock_filename = delete_me_to_import_files.txt")
    return write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {"ftp_monitor": {
        "log_file": str(tmp_path / "configured.log"), "log_format": "edeposit",
        "options": {"events": "true", "start_at": "beginning", "event_queue": "test-events"},
    }}, extra=extra)


@pytest.mark.slow
def test_ftp_monitord_filename_option_names_the_log_it_tails(tmp_path: Path, vhost: str) -> None:
    config = ftp_config(tmp_path, vhost)
    given = tmp_path / "given.log"
    with SessionWriter(given) as writer:
        writer.write(edeposit_record("STOR", "/home/ftp/alice/kniha.pdf", size=10))
    reader = QueueReader(BROKER, vhost, "ftp", "test-events", ["event.#"])
    process = subprocess.Popen([str(BIN / "edeposit_amqp_ftp_monitord.py"), "start", "-f", "-n", str(given)],
                               env=environment(config, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        [event] = reader.wait_for(1, timeout=30)
        assert json.loads(event.body)["path"] == "/home/ftp/alice/kniha.pdf"
    finally:
        reader.close()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"state starting -> following ({given}, format edeposit" in output
    assert not (tmp_path / "configured.log").exists()


def test_ftp_monitord_filename_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path / "amqpd.ini", "unused", tmp_path / "state", {})
    done = run("edeposit_amqp_ftp_monitord.py", "start", "-f", "--filename", str(tmp_path / "nope.log"),
               env=environment(config, tmp_path))
    assert done.returncode == 1
    assert f"-n {tmp_path / 'nope.log'}: no such file; give the ProFTPD ExtendedLog" in done.stderr


# -- edeposit_amqp_harvester.py -r / -u ---------------------------------------------------------------
def harvester_config(tmp_path: Path, vhost: str) -> Path:
    feed = tmp_path / "catalog.xml"
    feed.write_bytes(opds_feed(TITLES))
    return write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state",
                        {"harvester": {"options": {"feeds": f"opds:{feed}", "interval": 0}}})


def declare_exchange(vhost: str, name: str) -> None:
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="edeposit test declare"))
    try:
        connection.channel().exchange_declare(name, exchange_type="topic", durable=True)
    finally:
        connection.close()


def titles_of(publications: dict[str, Any]) -> list[str]:
    assert publications["__nt_name"] == "Publications"
    return sorted(p["title"] for p in publications["publications"])


def test_harvester_unittest_option_prints_the_new_titles_and_publishes_and_remembers_nothing(
        tmp_path: Path, vhost: str) -> None:
    env = environment(harvester_config(tmp_path, vhost), tmp_path)
    declare_exchange(vhost, "harvester")
    with bound_queue(vhost, "harvester", "#") as watched:
        for _ in range(2):  # the second run finds the same titles: nothing was remembered as sent
            done = run("edeposit_amqp_harvester.py", "-u", env=env)
            assert done.returncode == 0, done.stderr
            assert titles_of(json.loads(done.stdout)) == ["Babička", "Máj"]
            assert "2 new title(s) found (nothing was published or remembered)" in done.stderr
        assert queue_state(vhost, watched) == (0, 0)


def test_harvester_harvest_option_publishes_the_new_titles_once(tmp_path: Path, vhost: str) -> None:
    env = environment(harvester_config(tmp_path, vhost), tmp_path)
    declare_exchange(vhost, "harvester")
    with bound_queue(vhost, "harvester", "result") as watched:
        first = run("edeposit_amqp_harvester.py", "--harvest", env=env)
        assert first.returncode == 0, first.stderr
        [(method, properties, body)] = read_messages(vhost, watched, 1)
        assert (method.exchange, method.routing_key, properties.headers) == ("harvester", "result", {"UUID": ""})
        assert titles_of(json.loads(body)) == ["Babička", "Máj"]
        again = run("edeposit_amqp_harvester.py", "-r", env=env)
        assert again.returncode == 0 and "0 new title(s) published" in again.stderr
        assert queue_state(vhost, "plone")[0] == 1, "the daemon's output queue got the one harvest too"
    preview = run("edeposit_amqp_harvester.py", "-u", env=env)
    assert json.loads(preview.stdout)["publications"] == [], "the daemon's sent-titles database remembers them"


def test_harvester_without_an_action_or_option_prints_its_help(tmp_path: Path) -> None:
    config = write_config(tmp_path / "amqpd.ini", "unused", tmp_path / "state", {})
    done = run("edeposit_amqp_harvester.py", env=environment(config, tmp_path))
    assert done.returncode == 1 and "-r, --harvest" in done.stdout and "-u, --unittest" in done.stdout
    both = run("edeposit_amqp_harvester.py", "start", "-r", env=environment(config, tmp_path))
    assert both.returncode == 2 and "leave out start/stop/restart" in both.stderr


# -- edeposit_amqp_tool.py -------------------------------------------------------------------------
@pytest.fixture
def tool_env(tmp_path: Path, vhost: str) -> dict[str, str]:
    """Every daemon in the test's vhost, so that `--host all` touches nothing else on the broker."""
    config = write_config(tmp_path / "amqpd.ini", vhost, tmp_path / "state", {name: {} for name in BUILTIN_DAEMONS})
    return environment(config, tmp_path)


def test_old_tool_lists_the_old_host_names(tool_env: dict[str, str]) -> None:
    done = run("edeposit_amqp_tool.py", "-l", env=tool_env)
    assert done.returncode == 0
    assert done.stdout.split() == ["aleph", "aleph_link_export", "antivirus", "calibre", "downer", "ftp",
                                   "harvester", "ltp", "mx2mods", "pdfgen", "storage"]


def test_old_tool_creates_the_schema_of_all_hosts(tool_env: dict[str, str], vhost: str) -> None:
    done = run("edeposit_amqp_tool.py", "-s", "all", "-c", env=tool_env)
    assert done.returncode == 0, done.stderr
    for exchange in ("search", "convert", "ftp", "antivirus", "harvester", "ltp", "pdfgen", "downloader", "export",
                     "update-links", "count", "validate"):
        assert f"Created exchange '{exchange}'." in done.stdout.splitlines(), exchange
    assert queue_state(vhost, "daemon") == (0, 0) and queue_state(vhost, "updater") == (0, 0)


def test_old_tool_puts_to_mx2mods_and_gets_from_downer_with_the_old_output(tool_env: dict[str, str],
                                                                            vhost: str) -> None:
    assert run("edeposit_amqp_tool.py", "--host", "all", "--create", env=tool_env).returncode == 0
    with bound_queue(vhost, "export", "request") as requests:
        put = run("edeposit_amqp_tool.py", "-s", "mx2mods", "-p", "-", env=tool_env, stdin='{"n": 1}')
        assert put.returncode == 0, put.stderr
        [(method, properties, body)] = read_messages(vhost, requests, 1)
    assert (method.exchange, method.routing_key, body) == ("export", "request", b'{"n": 1}')
    assert properties.headers == {"UUID": put.stdout.strip()}

    publish_answer(vhost, "downloader", b'{"url": "x"}')
    got = run("edeposit_amqp_tool.py", "-s", "downer", "-g", "-t", "1", env=tool_env)
    assert got.returncode == 0, got.stderr
    first, dashes, blank = got.stdout.splitlines()[:3]
    assert json.loads(first)["body"] == '{"url": "x"}' and "routing_key=result" in json.loads(first)["method_frame"]
    assert (dashes, blank) == ("-" * 79, "")


def test_old_tool_refuses_get_from_all_hosts(tool_env: dict[str, str]) -> None:
    done = run("edeposit_amqp_tool.py", "-s", "all", "-g", env=tool_env)
    assert done.returncode == 2 and "--host all works with --create only" in done.stderr


def test_new_tool_knows_the_old_host_names_too(tool_env: dict[str, str], vhost: str) -> None:
    assert run("edeposit-amqp-tool", "--host", "all", "--create", env=tool_env).returncode == 0
    put = run("edeposit-amqp-tool", "--host", "mx2mods", "--put", str(WIRE / "aleph-count-request.json"),
              env=tool_env)
    assert put.returncode == 0, put.stderr
    assert queue_state(vhost, "daemon")[0] == 1


def publish_answer(vhost: str, exchange: str, body: bytes) -> None:
    from daemons.testing import publish

    publish(vhost, exchange, "result", body, {"UUID": "u"})
