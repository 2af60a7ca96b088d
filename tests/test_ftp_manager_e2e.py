"""ftp_manager end to end: requests over the real broker to a real worker, logins to a real ProFTPD."""

from __future__ import annotations

import ftplib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemons.ftp_manager import handler as fm
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, publish, read_messages, running_worker, throwaway_vhost, wait_for, write_config
from tests.fixtures.proftpd_server import ProFTPDServer, ftp_home_root, proftpd_server
from tests.fixtures.wire_files import WIRE

pytestmark = pytest.mark.slow


LOCK = "delete_me_to_import_files.txt"


@dataclass
class Stack:
    vhost: str
    server: ProFTPDServer
    client: RPCClient
    home_root: Path
    passwd_file: Path


@pytest.fixture(scope="module")
def stack(broker: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One ProFTPD and one ftp_manager worker for the module; each test uses its own usernames."""
    tmp = tmp_path_factory.mktemp("ftp")
    passwd_file = tmp / "etc" / "ftpd.passwd"
    passwd_file.parent.mkdir()
    with throwaway_vhost() as vhost, ftp_home_root() as home_root, \
            proftpd_server(tmp, tmp / "extended.log", passwd_file, home_root) as server:
        extra = (f"[ftp]\npasswd_file = {passwd_file}\nhome_root = {home_root}\n"
                 f"proftpd_pidfile = {server.pidfile}\nlock_filename = {LOCK}")
        config = write_config(tmp / "amqpd.ini", vhost, tmp / "state",
                              {"ftp_manager": {"enabled": "true"}}, extra=extra)
        with running_worker(config, "ftp_manager", tmp / "worker.log"), \
                RPCClient(BROKER, vhost, "ftp", registry=StructureRegistry.from_modules([fm])) as client:
            yield Stack(vhost, server, client, home_root, passwd_file)


def login(server: ProFTPDServer, username: str, password: str) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", server.port, timeout=10)
    ftp.login(username, password)
    return ftp


def refused(server: ProFTPDServer, username: str, password: str) -> bool:
    try:
        login(server, username, password).quit()
    except ftplib.error_perm as exc:
        return str(exc).startswith("530")
    return False


def test_old_client_adduser_request_makes_a_user_who_logs_in(stack: Stack) -> None:
    body = (WIRE / "ftp-adduser-request.json").read_bytes()
    request = json.loads(body)
    publish(stack.vhost, "ftp", "request", body, headers={"UUID": '{"old": "client"}'},
            content_type="application/json")

    [(_, properties, answer)] = read_messages(stack.vhost, "plone", 1)

    assert json.loads(answer) is True and properties.headers["UUID"] == '{"old": "client"}'
    ftp = login(stack.server, request["username"], request["password"])
    assert LOCK in ftp.nlst()
    ftp.quit()


def test_added_user_uploads_into_the_chrooted_home_and_can_delete_the_lock_file(stack: Stack) -> None:
    assert stack.client.call(fm.AddUser("uploader", "Upl0ad-pass")) is True

    ftp = login(stack.server, "uploader", "Upl0ad-pass")
    assert ftp.pwd() == "/"
    ftp.storbinary("STOR book.epub", io.BytesIO(b"\x00binary\xffbook"))
    ftp.delete(LOCK)
    ftp.quit()

    home = stack.home_root / "uploader"
    assert (home / "book.epub").read_bytes() == b"\x00binary\xffbook" and not (home / LOCK).exists()


def test_changed_password_replaces_the_old_one(stack: Stack) -> None:
    stack.client.call(fm.AddUser("changer", "old-password"))

    assert stack.client.call(fm.ChangePassword("changer", "new-password")) is True

    assert refused(stack.server, "changer", "old-password")
    login(stack.server, "changer", "new-password").quit()


def test_removed_user_is_refused_and_loses_the_home(stack: Stack) -> None:
    stack.client.call(fm.AddUser("leaver", "leaver-pass"))
    login(stack.server, "leaver", "leaver-pass").quit()

    assert stack.client.call(fm.RemoveUser("leaver")) is True

    assert refused(stack.server, "leaver", "leaver-pass")
    assert not (stack.home_root / "leaver").exists()
    assert "leaver" not in stack.client.call(fm.ListRegisteredUsers()).users


@pytest.mark.parametrize("username", ["../escape", "..", "bad name", "a/b"])
def test_unsafe_name_is_refused_over_amqp_naming_the_value(stack: Stack, username: str) -> None:
    homes_before = list(stack.home_root.iterdir())
    with pytest.raises(RemoteError) as error:
        stack.client.call(fm.AddUser(username, "pw"))
    assert error.value.exception_name == "InvalidUsername" and repr(username) in error.value.exception
    assert not (stack.home_root.parent / "escape").exists() and list(stack.home_root.iterdir()) == homes_before


def test_existing_user_is_refused_over_amqp(stack: Stack) -> None:
    stack.client.call(fm.AddUser("twice", "first-pass"))
    with pytest.raises(RemoteError, match="'twice' already exists"):
        stack.client.call(fm.AddUser("twice", "second-pass"))
    login(stack.server, "twice", "first-pass").quit()


def test_user_settings_round_trip_over_amqp(stack: Stack) -> None:
    stack.client.call(fm.AddUser("settled", "settled-pass"))
    assert stack.client.call(fm.GetUserSettings("settled")) == fm.UserSettings("settled", True, True, True, True, True)

    answer = stack.client.call(fm.SetUserSettings("settled", False, True, True, False, True))

    assert answer == fm.UserSettings("settled", False, True, True, False, True)
    assert stack.client.call(fm.GetUserSettings("settled")) == answer
    login(stack.server, "settled", "settled-pass").quit()


def test_every_change_sends_proftpd_a_hup(stack: Stack) -> None:
    def reloads() -> int:
        return len(re.findall(r"SIGHUP", stack.server.system_log.read_text(errors="replace")))

    before = reloads()
    stack.client.call(fm.AddUser("hupped", "hup-pass"))
    wait_for(lambda: reloads() > before, timeout=10, what="ProFTPD to log the HUP after AddUser")
    after_add = reloads()
    stack.client.call(fm.ChangePassword("hupped", "hup-pass-2"))
    wait_for(lambda: reloads() > after_add, timeout=10, what="ProFTPD to log the HUP after ChangePassword")
    login(stack.server, "hupped", "hup-pass-2").quit()
