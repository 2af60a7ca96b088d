"""`make run`'s setup installs the back ends of only the daemons the config enables."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from orchestrator.backends import lists_for, packages

ROOT = Path(__file__).resolve().parent.parent


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EDEPOSIT_AMQPD_CONFIG"}
    env.update(DRY_RUN="1", VENV=str(ROOT / ".venv"), HOME=str(ROOT / "nonexistent-home"))
    return subprocess.run([str(ROOT / "scripts" / "bootstrap.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_calibre_is_installed_only_when_its_daemon_is_enabled(tmp_path: Path) -> None:
    off = tmp_path / "off.ini"
    off.write_text("[daemons]\n  [[calibre]]\n  enabled = false\n  [[antivirus]]\n  enabled = false\n")
    done = dry_run("run", str(off))
    assert done.returncode == 0, done.stderr
    assert "lists: core, ftp_manager, ftp_monitor, pdfgen\n" in done.stderr
    on = tmp_path / "on.ini"
    on.write_text("[daemons]\n  [[antivirus]]\n  enabled = false\n")
    done = dry_run("run", str(on))
    assert done.returncode == 0 and "lists: core, calibre, ftp_manager, ftp_monitor, pdfgen\n" in done.stderr


def test_a_bad_config_stops_the_setup_and_says_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ini"
    bad.write_text("[daemons]\n  [[calibr]]\n")
    done = dry_run("run", str(bad))
    assert done.returncode != 0
    assert f"{bad}: [daemons] [[calibr]]: not a built-in daemon, and it names no handler: did you mean calibre?" \
        in done.stderr


def test_tests_get_every_list_and_a_package_appears_once() -> None:
    chosen = lists_for(ROOT / "scripts" / "apt", [], tests=True)
    assert {p.stem for p in chosen} >= {"core", "calibre", "test-pdfgen"}
    names = packages(chosen)
    assert names.count("proftpd-basic") == 1 and "calibre" in names
