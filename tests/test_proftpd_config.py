"""`edeposit-amqpd proftpd-config`: the printed lines, and that a real ProFTPD runs them and logs our format."""

from __future__ import annotations

import ftplib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemons.ftp_manager.users import FtpUser, hash_password, write_users
from daemons.testing import wait_for
from ftp_monitor.proftpd_config import EDEPOSIT_FIELDS, EDEPOSIT_LOG_FORMAT, ProFTPDConfigError, render
from tests.fixtures.proftpd_server import ProFTPDUnavailable, ftp_home_root, proftpd_server

FTP = {"passwd_file": "/etc/proftpd/ftpd.passwd", "home_root": "/home/ftp", "proftpd_pidfile": "/run/proftpd.pid",
       "lock_filename": "delete_me_to_import_files.txt"}


def directives(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {line.split(" ", 1)[0] + (" " + line.split(" ", 2)[1] if line.startswith("LogFormat") else ""):
            line.split(" ", 1)[1] for line in lines}


def test_edeposit_format_has_real_tabs_and_one_variable_per_field() -> None:
    text = render({"log_file": "/var/log/proftpd/extended.log", "log_format": "edeposit"}, FTP)

    found = directives(text)
    assert found["LogFormat edeposit"] == f'edeposit "{EDEPOSIT_LOG_FORMAT}"'
    assert "\\t" not in text and EDEPOSIT_LOG_FORMAT.count("\t") == len(EDEPOSIT_FIELDS) - 1
    assert EDEPOSIT_LOG_FORMAT.split("\t")[0] == "edeposit1" and EDEPOSIT_LOG_FORMAT.endswith("\t%f")
    assert found["ExtendedLog"] == "/var/log/proftpd/extended.log READ,WRITE edeposit"
    assert found["AuthUserFile"] == "/etc/proftpd/ftpd.passwd"
    assert found["PidFile"] == "/run/proftpd.pid"
    assert (found["DefaultRoot"], found["RequireValidShell"]) == ("~", "off")


def test_legacy_format_is_the_old_monitors_paths_format() -> None:
    found = directives(render({"log_file": "/var/log/x.log", "log_format": "legacy"}, FTP))
    assert found["LogFormat paths"] == 'paths "%f, %u, %m, %{%s}t"'
    assert found["ExtendedLog"] == "/var/log/x.log READ,WRITE paths"


def test_paths_with_spaces_are_quoted() -> None:
    found = directives(render({"log_file": "/var/log/my logs/x.log", "log_format": "edeposit"}, FTP))
    assert found["ExtendedLog"] == '"/var/log/my logs/x.log" READ,WRITE edeposit'


@pytest.mark.parametrize(("options", "ftp", "expected"), [
    ({"log_file": "relative.log", "log_format": "edeposit"}, FTP, r"log_file = 'relative.log': ProFTPD needs an abs"),
    ({"log_file": "/x.log", "log_format": "xml"}, FTP, r"log_format = 'xml': expected 'edeposit' or 'legacy'"),
    ({"log_file": "/x.log"}, {**FTP, "passwd_file": '/etc/"q"'}, r"\[ftp\] passwd_file = '/etc/\"q\"'"),
])
def test_bad_paths_and_formats_are_named(options: dict, ftp: dict, expected: str) -> None:
    with pytest.raises(ProFTPDConfigError, match=expected):
        render(options, ftp)


def test_cli_prints_the_lines_for_the_configured_paths(tmp_path: Path) -> None:
    config = tmp_path / "amqpd.ini"
    config.write_text(f"[orchestrator]\nstate_dir = {tmp_path}\n[ftp]\npasswd_file = {tmp_path}/ftpd.passwd\n"
                      f"proftpd_pidfile = {tmp_path}/p.pid\n[daemons]\n  [[ftp_monitor]]\n"
                      f"  log_file = {tmp_path}/ext.log\n  log_format = edeposit\n")
    result = subprocess.run([sys.executable, "-m", "orchestrator", "-c", str(config), "proftpd-config"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render({"log_file": f"{tmp_path}/ext.log", "log_format": "edeposit"},
                                   {**FTP, "passwd_file": f"{tmp_path}/ftpd.passwd",
                                    "proftpd_pidfile": f"{tmp_path}/p.pid"})


@pytest.mark.slow
def test_real_proftpd_logs_an_upload_in_the_printed_format(tmp_path: Path) -> None:
    passwd_file, log_file = tmp_path / "ftpd.passwd", tmp_path / "extended.log"
    with ftp_home_root() as home_root:
        home = home_root / "alice"
        home.mkdir()
        os.chown(home, 2000, 2000)
        write_users(passwd_file, [FtpUser("alice", hash_password("pw", 5000), 2000, 2000, "", str(home),
                                          "/bin/false")])
        with proftpd_server(tmp_path, log_file, passwd_file, home_root) as server:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", server.port, timeout=10)
            ftp.login("alice", "pw")
            ftp.storbinary("STOR my book.epub", io.BytesIO(b"12345"))
            ftp.quit()
            line = wait_for(lambda: log_file.read_bytes(), what="the STOR record").decode()
            sessions = server.session_pids()

        record = dict(zip(EDEPOSIT_FIELDS, line.rstrip("\n").split("\t", len(EDEPOSIT_FIELDS) - 1), strict=True))
        assert record["version"] == "edeposit1" and record["user"] == "alice" and record["command"] == "STOR"
        assert (record["status"], record["bytes"], record["transfer_status"]) == ("226", "5", "success")
        assert record["path"] == str(home / "my book.epub") and record["address"] == "127.0.0.1"
        assert record["time"][10] == "T" and record["time"][-5] in "+-"
        assert line.endswith("\n") and line.count("\n") == 1
    for pid in [server.pid, *sessions]:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_server_refuses_a_home_root_users_cannot_enter(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    (locked / "homes").mkdir(parents=True)
    locked.chmod(0o700)
    hint = r"FTP users cannot enter; use `with tests.fixtures.proftpd_server.ftp_home"
    with pytest.raises(ProFTPDUnavailable, match=hint):
        with proftpd_server(tmp_path, tmp_path / "x.log", tmp_path / "p", locked / "homes"):
            pass


def test_printed_lines_pass_proftpd_syntax_check_inside_debians_stock_config(tmp_path: Path) -> None:
    stock = Path("/etc/proftpd/proftpd.conf")
    assert stock.exists(), "proftpd-basic is not installed: apt-get install proftpd-basic"
    passwd_file = tmp_path / "ftpd.passwd"
    passwd_file.touch(mode=0o600)
    snippet = tmp_path / "edeposit.conf"
    snippet.write_text(render({"log_file": str(tmp_path / "ext.log"), "log_format": "edeposit"},
                              {**FTP, "passwd_file": str(passwd_file), "proftpd_pidfile": str(tmp_path / "p.pid")}))
    config = tmp_path / "proftpd.conf"
    config.write_text(stock.read_text().replace("Include /etc/proftpd/conf.d/", f"Include {snippet}"))

    result = subprocess.run(["proftpd", "-t", "-c", str(config)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Include {snippet}" in config.read_text()
