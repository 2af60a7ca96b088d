"""How fast ftp_manager answers, and what the default password hashing costs at login.

Run: .venv/bin/python tests/bench/ftp_manager_users.py   (needs root, RabbitMQ on 127.0.0.1 and proftpd-basic)

Prints: AddUser rate at the default rounds, request times on a 5,000-user AuthUserFile, the round trip of a
request through a real worker, and the login time of a real ProFTPD checking a default-rounds hash.
"""

from __future__ import annotations

import ftplib
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.ftp_manager import handler as fm  # noqa: E402
from daemons.ftp_manager import users as ftp_users  # noqa: E402
from daemons.rpc.client import RPCClient  # noqa: E402
from daemons.rpc.handler import HandlerContext  # noqa: E402
from daemons.rpc.wire import StructureRegistry  # noqa: E402
from daemons.testing import BROKER, running_worker, throwaway_vhost, write_config  # noqa: E402
from tests.fixtures.proftpd_server import ftp_home_root, proftpd_server  # noqa: E402

LOCK = "delete_me_to_import_files.txt"
BIG_FILE_USERS = 5000


def timings(action: Callable[[], object], count: int) -> list[float]:
    result = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        result.append(time.perf_counter() - started)
    return result


def report(name: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:<52} n={len(seconds):<5} p50={statistics.median(ordered) * 1000:8.2f} ms  "
          f"p99={p99 * 1000:8.2f} ms  rate={len(seconds) / sum(seconds):8.1f}/s")


def configure(tmp: Path, home_root: Path, rounds: int) -> None:
    fm.configure(HandlerContext(
        name="ftp_manager", options={"password_rounds": rounds}, data_dir=tmp, state_dir=tmp,
        shared={"ftp": {"passwd_file": str(tmp / "etc" / "ftpd.passwd"), "home_root": str(home_root),
                        "proftpd_pidfile": str(tmp / "none.pid"), "lock_filename": LOCK}}))


def bench_handler(tmp: Path, home_root: Path) -> None:
    (tmp / "etc").mkdir(exist_ok=True)
    configure(tmp, home_root, 656000)
    counter = iter(range(10**6))
    report("AddUser, default 656000 rounds (empty file)",
           timings(lambda: fm.react(fm.AddUser(f"new{next(counter)}", "pw"), print), 10))

    shared_hash = ftp_users.hash_password("pw", 1000)
    users = [ftp_users.FtpUser(f"user{i}", shared_hash, 2000, 2000, "", str(home_root / f"user{i}"), "/bin/false")
             for i in range(BIG_FILE_USERS)]
    ftp_users.write_users(tmp / "etc" / "ftpd.passwd", users)
    configure(tmp, home_root, 1000)
    big = f"({BIG_FILE_USERS} users)"
    report(f"ListRegisteredUsers {big}", timings(lambda: fm.react(fm.ListRegisteredUsers(), print), 50))
    report(f"GetUserSettings {big}", timings(lambda: fm.react(fm.GetUserSettings("user4999"), print), 50))
    report(f"SetUserSettings {big}, atomic rewrite",
           timings(lambda: fm.react(fm.SetUserSettings("user2500", True, False, True, False, True), print), 50))
    report(f"ChangePassword {big}, 1000 rounds", timings(lambda: fm.react(fm.ChangePassword("user1", "x"), print), 50))


def bench_worker(tmp: Path, home_root: Path) -> None:
    passwd_file = tmp / "w" / "ftpd.passwd"
    passwd_file.parent.mkdir()
    extra = f"[ftp]\npasswd_file = {passwd_file}\nhome_root = {home_root}\nproftpd_pidfile = {tmp / 'none.pid'}"
    with throwaway_vhost() as vhost:
        config = write_config(tmp / "amqpd.ini", vhost, tmp / "state", {"ftp_manager": {"enabled": "true"}},
                              extra=extra)
        with running_worker(config, "ftp_manager", tmp / "worker.log"), \
                RPCClient(BROKER, vhost, "ftp", registry=StructureRegistry.from_modules([fm])) as client:
            client.call(fm.AddUser("remote", "pw"))
            report("GetUserSettings through the worker (round trip)",
                   timings(lambda: client.call(fm.GetUserSettings("remote")), 200))


def bench_login(tmp: Path, home_root: Path) -> None:
    passwd_file = tmp / "p" / "ftpd.passwd"
    home = home_root / "login"
    home.mkdir()
    for rounds in (656000, 5000):
        ftp_users.write_users(passwd_file, [ftp_users.FtpUser("login", ftp_users.hash_password("pw", rounds), 2000,
                                                              2000, "", str(home), "/bin/false")])
        with proftpd_server(tmp, tmp / f"ext{rounds}.log", passwd_file, home_root) as server:
            def login() -> None:
                ftp = ftplib.FTP()
                ftp.connect("127.0.0.1", server.port, timeout=10)
                ftp.login("login", "pw")
                ftp.quit()

            report(f"ProFTPD login, hash with {rounds} rounds", timings(login, 10))


def main() -> None:
    logging.getLogger("edeposit.ftp_manager").setLevel(logging.ERROR)  # no ProFTPD to reload in the handler runs
    with tempfile.TemporaryDirectory(prefix="ftp-manager-bench-") as tmp_name, ftp_home_root() as home_root:
        tmp = Path(tmp_name)
        bench_handler(tmp, home_root)
        bench_worker(tmp, home_root)
        bench_login(tmp, home_root)


if __name__ == "__main__":
    main()
