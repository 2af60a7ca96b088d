"""Offline ClamAV for tests and benchmarks: a signature database built from the EICAR test file with
`sigtool --md5`, and a private clamd on a unix socket (own clamd.conf; never the system service).

    db = build_signature_database(tmp_path / "db", {"Eicar-Test-Signature": eicar_bytes()})
    with private_clamd(tmp_path / "clamd", db) as socket_path:
        ...
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from daemons.clamav_clamd import ClamdClient

# The EICAR anti-virus test file, kept base64-encoded so that no scanner flags this source file.
_EICAR_B64 = "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo="


def eicar_bytes() -> bytes:
    return base64.b64decode(_EICAR_B64)


def build_signature_database(directory: Path, samples: dict[str, bytes]) -> Path:
    """A ClamAV database dir holding one MD5 signature per sample, named after its key."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, content in samples.items():
        sample = directory / f"{name}.sample"
        sample.write_bytes(content)
        try:
            digest, size, _ = subprocess.run(["sigtool", "--md5", str(sample)], capture_output=True, text=True,
                                             check=True).stdout.strip().split(":", 2)
        finally:
            sample.unlink()
        lines.append(f"{digest}:{size}:{name}")
    (directory / "edeposit-test.hdb").write_text("\n".join(lines) + "\n")
    return directory


@contextlib.contextmanager
def private_clamd(workdir: Path, database_dir: Path, stream_max_bytes: int = 64 * 1024 * 1024,
                  start_timeout: float = 60.0) -> Iterator[Path]:
    """Run clamd in the foreground on `<workdir>/clamd.sock` until the block ends; yields the socket path."""
    from daemons.testing import wait_for

    workdir.mkdir(parents=True, exist_ok=True)
    socket_path = workdir / "clamd.sock"
    config = workdir / "clamd.conf"
    config.write_text(
        f"LocalSocket {socket_path}\nLocalSocketMode 600\nDatabaseDirectory {database_dir}\nForeground yes\n"
        f"TemporaryDirectory {workdir}\nLogFile {workdir / 'clamd.log'}\nStreamMaxLength {stream_max_bytes}\n"
        "SelfCheck 3600\n"
    )
    log = open(workdir / "clamd.out", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(["clamd", f"--config-file={config}"], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        client = ClamdClient(str(socket_path), timeout=5)

        def answering() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"clamd exited with {process.returncode}: {(workdir / 'clamd.out').read_text()}")
            return client.ping()

        wait_for(answering, timeout=start_timeout, what=f"clamd on {socket_path}")
        yield socket_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
