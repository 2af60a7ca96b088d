"""Least privilege: a root master runs every built-in daemon as an unprivileged user, and says clearly
when a daemon's user cannot be used. These tests need root (they create a system user)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemons.aleph import handler as aleph
from daemons.aleph_link_export import handler as link_export
from daemons.antivirus import handler as antivirus
from daemons.calibre import handler as calibre
from daemons.common.processes import pid_running
from daemons.downloader import handler as downloader
from daemons.ftp_manager import handler as ftp_manager
from daemons.harvester import handler as harvester
from daemons.ltp import handler as ltp
from daemons.marcxml2mods import handler as marcxml2mods
from daemons.pdfgen import handler as pdfgen
from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.rpc.client import RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.storage import handler as storage
from daemons.testing import BROKER, throwaway_vhost, wait_for
from orchestrator.config import load
from orchestrator.control import MasterClient, MasterFiles
from tests.fixtures.accounts import reachable_by_everyone, system_user, worker_paths
from tests.fixtures.clamav import build_signature_database, eicar_bytes, private_clamd
from tests.fixtures.feeds import opds_feed, sample_titles
from tests.test_downloader import LocalServer, send_bytes
from tests.test_ltp import request as ltp_request
from tests.test_marcxml2mods import MARC
from tests.test_storage_worker import OLD_CLIENT_SAVE

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs a root master")]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def account() -> Iterator[Any]:
    with system_user(f"edtest{uuid.uuid4().hex[:6]}") as user, reachable_by_everyone(worker_paths()):
        yield user


@pytest.fixture
def root_dir() -> Iterator[Path]:
    """A temp dir the unprivileged user can pass through (pytest's own are mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="edeposit-lp-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", "-c", str(config), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_check_config_names_a_user_that_does_not_exist(root_dir: Path) -> None:
    ini = root_dir / "amqpd.ini"
    ini.write_text(f"[orchestrator]\nstate_dir = {root_dir / 'state'}\nuser = \n[daemons]\n  [[calibre]]\n"
                   f"  user = no-such-user-x1\n")
    done = run_cli(ini, "check-config")
    assert done.returncode == 2
    assert (f"{ini}: [daemons] [[calibre]] user = 'no-such-user-x1': no such user; create it "
            f"(`useradd --system no-such-user-x1`") in done.stderr
    assert "[[aleph]]" not in done.stderr, "only the daemon with the bad user is named"


def test_check_config_names_a_group_the_user_is_not_in(root_dir: Path, account: Any) -> None:
    ini = root_dir / "amqpd.ini"
    ini.write_text(f"[orchestrator]\nstate_dir = {root_dir / 'state'}\nuser = {account.pw_name}\n"
                   f"group = root\n")
    done = run_cli(ini, "check-config")
    assert done.returncode == 2
    assert (f"[daemons] [[aleph]] group = 'root': user {account.pw_name!r} is not in that group; "
            f"add it (`usermod -aG root {account.pw_name}`)") in done.stderr


def test_check_config_names_a_directory_the_user_cannot_read(root_dir: Path, account: Any) -> None:
    private = root_dir / "private"
    private.mkdir(mode=0o700)
    ini = root_dir / "amqpd.ini"
    ini.write_text(f"[orchestrator]\nstate_dir = {root_dir / 'state'}\nuser = {account.pw_name}\n[daemons]\n"
                   f"  [[calibre]]\n  python_path = {private}\n")
    done = run_cli(ini, "check-config")
    assert done.returncode == 2
    assert (f"[daemons] [[calibre]] user = {account.pw_name!r}: that user cannot read python_path {private}; "
            f"give it access") in done.stderr
    assert done.stderr.count("cannot read") == 1, "the other daemons' users reach everything"


def test_a_root_master_hands_each_daemon_its_directories_with_its_group(root_dir: Path, account: Any) -> None:
    import grp

    from orchestrator import privileges

    group = f"edgrp{uuid.uuid4().hex[:6]}"
    subprocess.run(["groupadd", "--system", group], check=True, capture_output=True)
    try:
        subprocess.run(["usermod", "-aG", group, account.pw_name], check=True, capture_output=True)
        state = root_dir / "state"
        old = state / "storage" / "old" / "catalog.sqlite"  # left by an earlier master that ran it as root
        old.parent.mkdir(parents=True)
        old.write_text("")
        ini = root_dir / "amqpd.ini"
        ini.write_text(f"[orchestrator]\nstate_dir = {state}\nuser = {account.pw_name}\ngroup = {group}\n")
        config = load(ini)
        settings = config.daemon("storage")
        privileges.prepare(config, settings)
        gid = grp.getgrnam(group).gr_gid
        owned = (state / "storage", old.parent, old, state / "inflight" / "storage", state / "notes" / "storage.txt")
        for path in owned:
            assert (path.stat().st_uid, path.stat().st_gid) == (account.pw_uid, gid), path
        for shared in (state, state / "inflight", state / "notes", state / "run"):
            assert shared.stat().st_uid == 0, shared
        assert (state / "run" / "storage.owner").stat().st_uid == 0, "the worker only reads its owner lock"
        assert privileges.problems(config, settings) == []
    finally:
        subprocess.run(["groupdel", group], check=False, capture_output=True)


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def write_all_daemons(path: Path, root: Path, vhosts: dict[str, str], user: str, options: dict[str, dict[str, str]],
                      ftp_user: Any) -> Path:
    lines = ["[amqp]", f"host = {BROKER.host}", f"port = {BROKER.port}", "heartbeat = 10", "reconnect_max_delay = 2",
             "[orchestrator]", f"state_dir = {root / 'state'}", f"user = {user}", "startsecs = 1",
             "[ftp]", f"passwd_file = {root / 'ftp' / 'ftpd.passwd'}", f"home_root = {root / 'ftp' / 'home'}",
             f"proftpd_pidfile = {root / 'ftp' / 'proftpd.pid'}", "[daemons]"]
    for name in BUILTIN_DAEMONS:
        lines += [f"  [[{name}]]", f"  vhost = {vhosts[name]}"]
        if name in ("ftp_manager", "ftp_monitor"):
            lines.append(f"  user = {user}")  # root by default: docs/operations.rst says what this takes
        if name == "ftp_monitor":
            lines.append(f"  log_file = {root / 'proftpd.log'}")
        if options.get(name):
            lines.append("    [[[options]]]")
            lines += [f"    {key} = {value}" for key, value in options[name].items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def call(vhost: str, exchange: str, module: Any, message: Any, timeout: float = 60) -> Any:
    with RPCClient(BROKER, vhost, exchange, registry=StructureRegistry.from_modules([module])) as client:
        return client.call(message, timeout=timeout)


def test_every_builtin_daemon_serves_a_request_as_the_unprivileged_user(root_dir: Path, account: Any) -> None:
    uid, gid = account.pw_uid, account.pw_gid
    (root_dir / "proftpd.log").touch()
    ftp = root_dir / "ftp"
    (ftp / "home").mkdir(parents=True)
    for path in (ftp, ftp / "home"):  # the ftp_manager user owns the AuthUserFile's directory and the homes
        os.chown(path, uid, gid)
    (root_dir / "catalog.xml").write_bytes(opds_feed(sample_titles(2)))
    server = LocalServer()
    server.routes["/book.pdf"] = send_bytes(b"%PDF-1.4 a book")
    server.thread.start()
    with contextlib.ExitStack() as stack:
        database = build_signature_database(root_dir / "clamdb", {"Eicar-Test-Signature": eicar_bytes()})
        clamd_socket = stack.enter_context(private_clamd(root_dir / "clamd", database))
        os.chown(clamd_socket, uid, gid)  # clamd runs as root here; the socket is for the daemon's user
        vhosts = {name: stack.enter_context(throwaway_vhost(f"lp-{name}")) for name in BUILTIN_DAEMONS}
        options = {
            "antivirus": {"clamd_socket": str(clamd_socket), "clamscan": "/nonexistent"},
            "downloader": {"allow_private_networks": "true"},
            "ftp_manager": {"uid": str(uid), "gid": str(gid)},
            "harvester": {"feeds": f"opds:{root_dir / 'catalog.xml'}", "interval": "0"},
        }
        config_path = write_all_daemons(root_dir / "amqpd.ini", root_dir, vhosts, account.pw_name, options, account)
        config = load(config_path)
        client = MasterClient(MasterFiles.for_config(config))
        stack.callback(lambda: client.is_running() and run_cli(config_path, "stop-all"))
        assert run_cli(config_path, "schema", "create", "all").returncode == 0
        started = run_cli(config_path, "start-all")
        assert started.returncode == 0, started.stdout + started.stderr
        workers = {info["group"]: info["pid"] for info in client.processes() if info["group"] in BUILTIN_DAEMONS}
        assert sorted(workers) == sorted(BUILTIN_DAEMONS)
        assert {name: uid_of(pid) for name, pid in workers.items()} == {name: uid for name in workers}

        v = vhosts
        answers = {
            "aleph": call(v["aleph"], "validate", aleph, aleph.ISBNValidationRequest("80-251-0225-4")),
            "aleph_link_export": call(v["aleph_link_export"], "update-links", link_export,
                                      link_export.LinkUpdateRequest("uuid-1", "000000001", ["https://e.example/1.pdf"],
                                                                    None, None, "s-1")),
            "antivirus": call(v["antivirus"], "antivirus", antivirus,
                              antivirus.ScanFile("eicar.txt", base64.b64encode(eicar_bytes()).decode())),
            "calibre": call(v["calibre"], "convert", calibre,
                            calibre.ConversionRequest("txt", "epub", base64.b64encode(b"Kniha.").decode()), 180),
            "downloader": call(v["downloader"], "downloader", downloader,
                               downloader.CheckExistence(f"http://127.0.0.1:{server.server.server_port}/book.pdf")),
            "ftp_manager": call(v["ftp_manager"], "ftp", ftp_manager, ftp_manager.AddUser("uploader", "Upl0ad-pass")),
            "harvester": call(v["harvester"], "harvester", harvester, harvester.HarvestRequest()),
            "ltp": call(v["ltp"], "ltp", ltp, ltp_request()),
            "marcxml2mods": call(v["marcxml2mods"], "export", marcxml2mods,
                                 marcxml2mods.ConversionRequest(MARC, "uuid-1", "http://e/1")),
            "pdfgen": call(v["pdfgen"], "pdfgen", pdfgen, pdfgen.RST2PDF("Text.", None, None, None)),
            "storage": call(v["storage"], "export", storage, json.dumps(OLD_CLIENT_SAVE).encode()),
        }
        assert answers["aleph"].is_valid is True
        assert answers["aleph_link_export"] is None
        assert answers["antivirus"].result == {"eicar.txt": ["FOUND", "Eicar-Test-Signature.UNOFFICIAL"]}
        assert base64.b64decode(answers["calibre"].b64_data)[:2] == b"PK"
        assert answers["downloader"].result is True
        assert answers["ftp_manager"] is True
        assert [p.title for p in answers["harvester"].publications] == ["Kniha 0", "Kniha 1"]
        assert answers["ltp"] is not None
        assert "mods" in answers["marcxml2mods"].mods_files[0]
        assert base64.b64decode(answers["pdfgen"].b64_content).startswith(b"%PDF")
        assert answers["storage"] is not None

        as_user = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", sys.executable,
                                  "-m", "orchestrator", "-c", str(config_path), "status"],
                                 capture_output=True, text=True, timeout=60,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert as_user.returncode == 3
        assert "control socket's credentials, is readable only by the master's user" in as_user.stdout

        state = config.orchestrator.state_dir
        assert (ftp / "home" / "uploader").stat().st_uid == uid
        assert "uploader:" in (ftp / "ftpd.passwd").read_text()
        for name in ("storage", "ltp", "harvester", "aleph_link_export"):
            assert (state / name).stat().st_uid == uid, name
        notes = {path.name: path.stat().st_uid for path in (state / "notes").iterdir()}
        assert set(notes.values()) == {uid}
        pids = list(workers.values())
    assert not any(pid_running(pid) for pid in pids)
    wait_for(lambda: not client.is_running(), timeout=10, what="the master to stop")


def test_unprivileged_ftp_manager_adds_a_user_who_logs_in_to_proftpd_without_a_hup(
        root_dir: Path, account: Any, vhost: str) -> None:
    import ftplib

    from daemons.testing import write_config
    from tests.fixtures.proftpd_server import ftp_home_root, proftpd_server

    uid, gid = account.pw_uid, account.pw_gid
    etc = root_dir / "etc"
    etc.mkdir()
    os.chown(etc, uid, gid)  # the daemon's user owns the AuthUserFile's directory: it replaces the file there
    passwd_file = etc / "ftpd.passwd"
    (root_dir / "proftpd").mkdir()
    with ftp_home_root() as home_root, proftpd_server(root_dir / "proftpd", root_dir / "extended.log", passwd_file,
                                                      home_root) as server:
        os.chown(passwd_file, uid, gid)
        os.chown(home_root, uid, gid)
        extra = f"[ftp]\npasswd_file = {passwd_file}\nhome_root = {home_root}\nproftpd_pidfile = {server.pidfile}"
        config = write_config(root_dir / "amqpd.ini", vhost, root_dir / "state", {"ftp_manager": {
            "user": account.pw_name, "options": {"uid": uid, "gid": gid}}}, extra=extra)
        try:
            started = run_cli(config, "start-all")
            assert started.returncode == 0, started.stdout + started.stderr
            assert call(vhost, "ftp", ftp_manager, ftp_manager.AddUser("uploader", "Upl0ad-pass")) is True
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", server.port, timeout=10)
            ftp.login("uploader", "Upl0ad-pass")
            assert "delete_me_to_import_files.txt" in ftp.nlst()
            ftp.quit()
        finally:
            run_cli(config, "stop-all")
    log = (root_dir / "state" / "log" / "ftp_manager.log").read_text()
    assert "not allowed to signal ProFTPD" in log and "not needed: ProFTPD reads the AuthUserFile at every login" in log
    assert passwd_file.stat().st_uid == uid
