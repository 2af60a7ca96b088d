"""Runs ClamAV's command-line tools: `clamscan` when no clamd answers, `freshclam` to update signatures.

The bytes go to clamscan through its standard input and its own temporary files go to a private
directory (mode 0700), so no copy of a scanned file is ever readable by other users.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from daemons.antivirus.clamd import Verdict

# Files ClamAV loads as signatures; a directory without any of them makes clamscan fail.
SIGNATURE_SUFFIXES = frozenset({
    ".cvd", ".cld", ".cud", ".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".mdu", ".msu", ".ndb", ".ndu",
    ".ldb", ".ldu", ".sdb", ".idb", ".cdb", ".crb", ".pdb", ".gdb", ".wdb", ".fp", ".sfp", ".yar", ".yara",
    ".imp",
})
DEFAULT_DATABASE_DIR = "/var/lib/clamav"


class ClamscanError(RuntimeError):
    """clamscan ran but could not scan (exit status 2): no database, bad database, out of memory..."""


class FreshclamError(RuntimeError):
    """freshclam did not update the database; the text carries its output."""


def find_program(program: str) -> str | None:
    """The full path of `program` (a name looked up on PATH, or a path), None when missing."""
    return shutil.which(program)


def has_signatures(database_dir: str | None) -> bool:
    directory = Path(database_dir or DEFAULT_DATABASE_DIR)
    try:
        return any(p.suffix in SIGNATURE_SUFFIXES for p in directory.iterdir())
    except OSError:
        return False


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def clamscan_bytes(data: bytes, clamscan: str, database_dir: str | None = None, timeout: float = 300.0) -> Verdict:
    """Scan `data` with a fresh clamscan process.

    Note: clamscan loads the whole signature database on every call (seconds with the official
    databases); clamd keeps it loaded, so it is the fast path.
    """
    with tempfile.TemporaryDirectory(prefix="edeposit-clamscan-") as private_tmp:
        command = [clamscan, "--no-summary", "--stdout", f"--tempdir={private_tmp}"]
        if database_dir:
            command.append(f"--database={database_dir}")
        command.append("-")
        try:
            done = subprocess.run(command, input=data, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ClamscanError(f"clamscan did not finish within {timeout:g} s; raise the `timeout` option") from exc
    output = done.stdout.decode("utf-8", "replace")
    if done.returncode == 1:
        for line in output.splitlines():
            if line.startswith("stdin: ") and line.endswith(" FOUND"):
                return Verdict(line[len("stdin: "): -len(" FOUND")])
    if done.returncode == 0:
        return Verdict(None)
    errors = _tail(done.stderr.decode("utf-8", "replace") + "\n" + output)
    raise ClamscanError(f"{' '.join(command)} failed with exit status {done.returncode}: {errors}")


def run_freshclam(freshclam: str, config_file: str | None = None, database_dir: str | None = None,
                  timeout: float = 600.0) -> str:
    """Update the signature database; freshclam's output on success, FreshclamError otherwise."""
    command = [freshclam, "--stdout"]
    if config_file:
        command.append(f"--config-file={config_file}")
    if database_dir:
        command.append(f"--datadir={database_dir}")
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise FreshclamError(f"{' '.join(command)} did not finish within {timeout:g} s") from exc
    output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise FreshclamError(f"{' '.join(command)} failed with exit status {done.returncode}:\n{_tail(output)}")
    return output
