"""Runs calibre's `ebook-convert` on bytes, in a private temporary directory, with a time limit.

Note: ebook-convert renders PDF (and reads some formats) through QtWebEngine, whose Chromium refuses to
run as root with its sandbox on and wants a display. As root we set QTWEBENGINE_DISABLE_SANDBOX=1, and
QT_QPA_PLATFORM=offscreen unless the environment already chose a platform; calibre's config, caches and
temporary files stay in the private directory, so conversions never share state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class ConversionFailed(RuntimeError):
    """ebook-convert exited with an error or wrote no output; the text carries the end of its output."""


class ConversionTimeout(ConversionFailed):
    """ebook-convert ran longer than the time limit and was killed with all its children."""


@dataclass(frozen=True)
class Conversion:
    data: bytes
    protocol: str


def converter_environment(workdir: Path) -> dict[str, str]:
    """The environment for one ebook-convert run: private config/temp dirs, headless Qt, sandbox as root."""
    private = {name: workdir / name for name in ("config", "cache", "tmp", "runtime")}
    for path in private.values():
        path.mkdir(mode=0o700)
    env = dict(os.environ)
    env.update(
        CALIBRE_CONFIG_DIRECTORY=str(private["config"]),
        CALIBRE_CACHE_DIRECTORY=str(private["cache"]),
        CALIBRE_TEMP_DIR=str(private["tmp"]),
        TMPDIR=str(private["tmp"]),
        XDG_RUNTIME_DIR=str(private["runtime"]),
    )
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.geteuid() == 0:
        env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def convert(data: bytes, input_format: str, output_format: str, ebook_convert: str = "ebook-convert",
            timeout: float = 600.0, temp_root: str | None = None) -> Conversion:
    """Convert `data` from one (already checked) format to another; the result and ebook-convert's output."""
    with tempfile.TemporaryDirectory(prefix="edeposit-calibre-", dir=temp_root) as name:
        workdir = Path(name)
        source = workdir / f"input.{input_format}"
        target = workdir / f"output.{output_format}"
        source.write_bytes(data)
        command = [ebook_convert, str(source), str(target)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, cwd=workdir, env=converter_environment(workdir),
                                   start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            raise ConversionTimeout(
                f"ebook-convert {input_format} -> {output_format} did not finish within {timeout:g} s and was "
                f"stopped; raise the calibre daemon's `timeout` option for big books:\n"
                f"{_tail(output.decode('utf-8', 'replace'))}"
            ) from None
        finally:
            _kill_group(process)  # helpers (e.g. QtWebEngine) that outlived ebook-convert
        protocol = output.decode("utf-8", "replace")
        if process.returncode != 0 or not target.is_file():
            raise ConversionFailed(
                f"ebook-convert could not convert {input_format} to {output_format} "
                f"(exit status {process.returncode}):\n{_tail(protocol)}"
            )
        return Conversion(target.read_bytes(), protocol)
