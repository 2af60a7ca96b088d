"""Builds one preservation package in a temp dir and moves it into the export folder in one rename.

Layout of `<export_dir>/<book_uuid>/`:

    data/<file name>        the original file
    metadata/mods.xml       MODS of the record (mods_2.xml ... when the record describes several volumes)
    metadata/marc.xml       the catalogue record as received
    manifest.md5            "<md5>  <path>" for every file above (`md5sum -c manifest.md5` checks it)
    info.xml                describes the package, with the manifest's MD5

Note: the temp dir is a dot-directory inside the export folder (same file system, so the rename is
atomic); the preservation system must ignore names starting with a dot.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from daemons.ltp.info import PackageInfo, info_xml

MANIFEST = "manifest.md5"
INFO = "info.xml"
TEMP_PREFIX = ".incoming-"


@dataclass(frozen=True)
class PackageContent:
    package_id: str
    data_name: str
    data: bytes
    mods_files: list[str]
    marc_xml: str
    creator: str
    title: str
    title_ids: list[tuple[str, str]]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def md5_manifest(files: Iterable[tuple[str, bytes]]) -> str:
    """md5sum's text format: one "<hex>  <relative path>" line per file."""
    return "".join(f"{hashlib.md5(data).hexdigest()}  {name}\n" for name, data in files)


def package_files(content: PackageContent) -> list[tuple[str, bytes]]:
    """(relative path, bytes) of every file the manifest covers, in a stable order."""
    mods_names = ["mods.xml"] + [f"mods_{n}.xml" for n in range(2, len(content.mods_files) + 1)]
    return [
        (f"data/{content.data_name}", content.data),
        *((f"metadata/{name}", text.encode("utf-8")) for name, text in zip(mods_names, content.mods_files,
                                                                            strict=True)),
        ("metadata/marc.xml", content.marc_xml.encode("utf-8")),
    ]


def write_package(export_dir: Path, content: PackageContent) -> Path:
    """Write the package and move it into `export_dir/<package_id>`; an earlier package of it is replaced."""
    export_dir.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{content.package_id}-", dir=export_dir))
    try:
        files = package_files(content)
        for name, data in files:
            _write(temp / name, data)
        manifest = md5_manifest(files).encode("utf-8")
        _write(temp / MANIFEST, manifest)
        info = PackageInfo(
            package_id=content.package_id, creator=content.creator, title=content.title, title_ids=content.title_ids,
            items=[name for name, _ in files] + [MANIFEST], size_bytes=sum(len(d) for _, d in files) + len(manifest),
            manifest_name=MANIFEST, manifest_md5=hashlib.md5(manifest).hexdigest(),
        )
        _write(temp / INFO, info_xml(info).encode("utf-8"))
        for directory in (temp / "data", temp / "metadata", temp):
            _fsync_dir(directory)
        os.chmod(temp, 0o755)
        return _move_into_place(temp, export_dir / content.package_id)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _move_into_place(temp: Path, target: Path) -> Path:
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".replaced-{target.name}-", dir=target.parent))
        os.rename(target, old / target.name)
    os.rename(temp, target)
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
