"""A real ProFTPD for tests, on free ports, configured with the lines `edeposit-amqpd proftpd-config` prints.

    with proftpd_server(tmp_path, log_file, passwd_file, home_root) as server:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", server.port)

It runs Debian's proftpd-basic as `proftpd -n -c <generated conf>` (root, foreground), listens on
127.0.0.1 only, keeps its scoreboard, pid file, delay table and system log in `tmp_path`, and never needs
or touches the system-wide proftpd service. On exit it stops the server and every session child.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ftp_monitor.proftpd_config import render

PROFTPD = shutil.which("proftpd") or "/usr/sbin/proftpd"
PASSIVE_PORTS = 16
START_TIMEOUT = 20.0


class ProFTPDUnavailable(RuntimeError):
    """ProFTPD is not installed or did not start; the text says how to fix it."""


@dataclass
class ProFTPDServer:
    port: int
    pid: int
    pidfile: Path
    config_path: Path
    log_file: Path
    system_log: Path  # what ProFTPD logs in the foreground (-n): sessions, HUPs, errors
    process: subprocess.Popen = field(repr=False)

    def reload(self) -> None:
        """HUP the server (what ftp_manager does) and wait until it accepts connections again."""
        os.kill(self.pid, signal.SIGHUP)
        _wait_accepting(self)

    def session_pids(self) -> list[int]:
        return _children_of(self.pid)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _free_passive_range(count: int = PASSIVE_PORTS) -> tuple[int, int]:
    for _ in range(50):
        first = _free_port()
        if first + count < 65535 and all(_port_is_free(first + i) for i in range(count)):
            return first, first + count - 1
    raise ProFTPDUnavailable(f"found no {count} free consecutive ports for passive FTP on 127.0.0.1")


def server_config_text(tmp_path: Path, port: int, passive: tuple[int, int], lines: str) -> str:
    """The whole proftpd.conf of a test server: its own files in tmp_path plus the printed lines."""
    return "\n".join([
        'ServerName "edeposit-amqpd test"',
        "ServerType standalone",
        "DefaultServer on",
        "UseIPv6 off",
        "DefaultAddress 127.0.0.1",
        "SocketBindTight on",
        f"Port {port}",
        f"PassivePorts {passive[0]} {passive[1]}",
        "User nobody",
        "Group nogroup",
        "Umask 022",
        "AllowOverwrite on",
        "MaxInstances 30",
        "UseReverseDNS off",
        "WtmpLog off",
        "TransferLog NONE",
        f"ScoreboardFile {tmp_path / 'proftpd.scoreboard'}",
        f"DelayTable {tmp_path / 'proftpd.delay'}",
        "AuthOrder mod_auth_file.c",
        "<IfModule mod_ident.c>\n  IdentLookups off\n</IfModule>",
        "<IfModule mod_ctrls.c>\n  ControlsEngine off\n</IfModule>",
        "<IfModule mod_auth_pam.c>\n  AuthPAM off\n</IfModule>",
        "# --- the lines of `edeposit-amqpd proftpd-config` ---",
        lines,
    ])


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the ppid is the second field after the parenthesised command name
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def _banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.settimeout(2)
        banner = connection.recv(256)
        with contextlib.suppress(OSError):
            connection.sendall(b"QUIT\r\n")
        return banner


def _wait_accepting(server: ProFTPDServer, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise ProFTPDUnavailable(
                f"proftpd exited with {server.process.returncode}; its log:\n{_read(server.system_log)}"
            )
        with contextlib.suppress(OSError):
            if _banner(server.port).startswith(b"220"):
                return
        if time.monotonic() > deadline:
            raise ProFTPDUnavailable(f"proftpd did not accept connections on port {server.port} in {timeout} s; "
                                     f"its log:\n{_read(server.system_log)}")
        time.sleep(0.05)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _stop(server: ProFTPDServer) -> None:
    sessions = _children_of(server.pid)
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    for pid in sessions:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)


@contextlib.contextmanager
def ftp_home_root(prefix: str = "edeposit-ftp-homes-") -> Iterator[Path]:
    """A home_root FTP users can enter: a fresh /tmp/<prefix>XXXX (mode 0711), removed with its content after.

    Note: pytest's tmp_path lies under /tmp/pytest-of-root, mode 0700, which every pytest run resets; ProFTPD
    resolves `DefaultRoot ~` as the FTP user, so homes under tmp_path cannot be entered.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _check_enterable(home_root: Path) -> None:
    for directory in Path(home_root).resolve().parents:
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise ProFTPDUnavailable(
                f"home_root {home_root} lies under {directory} (mode {stat.S_IMODE(directory.stat().st_mode):04o}), "
                f"which FTP users cannot enter; use `with tests.proftpd_server.ftp_home_root() as home_root:`"
            )


def _ensure_passwd_file(passwd_file: Path) -> None:
    """ProFTPD refuses to start without its AuthUserFile; an empty one (no users yet) is what a fresh install has."""
    if not passwd_file.exists():
        passwd_file.parent.mkdir(parents=True, exist_ok=True)
        passwd_file.touch(mode=0o600)


@contextlib.contextmanager
def proftpd_server(tmp_path: Path, log_file: Path, passwd_file: Path, home_root: Path,
                   log_format: str = "edeposit") -> Iterator[ProFTPDServer]:
    """A running ProFTPD on a free port with the printed lines for these paths; stopped with its children."""
    if not Path(PROFTPD).exists():
        raise ProFTPDUnavailable("proftpd is not installed: apt-get install proftpd-basic")
    if os.geteuid() != 0:
        raise ProFTPDUnavailable("the test ProFTPD must run as root (it switches to each FTP user's uid)")
    tmp_path = Path(tmp_path)
    _check_enterable(Path(home_root))
    _ensure_passwd_file(Path(passwd_file))
    pidfile = tmp_path / "proftpd.pid"
    lines = render({"log_file": str(log_file), "log_format": log_format},
                   {"passwd_file": str(passwd_file), "home_root": str(home_root), "proftpd_pidfile": str(pidfile),
                    "lock_filename": "delete_me_to_import_files.txt"})
    port = _free_port()
    config_path = tmp_path / "proftpd.conf"
    config_path.write_text(server_config_text(tmp_path, port, _free_passive_range(), lines))
    output = open(config_path.with_suffix(".out"), "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([PROFTPD, "-n", "-c", str(config_path)], stdout=output, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    server = ProFTPDServer(port=port, pid=process.pid, pidfile=pidfile, config_path=config_path,
                           log_file=Path(log_file), system_log=config_path.with_suffix(".out"), process=process)
    try:
        _wait_accepting(server)
        yield server
    finally:
        _stop(server)
        output.close()
