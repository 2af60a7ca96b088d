"""What the preservation system says about a package: the markers it leaves next to it in the export folder.

`<book_uuid>.ok` means it took the package in; `<book_uuid>.err` means it failed, the file's text says why;
neither means it has not been picked up yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OK_SUFFIX = ".ok"
ERROR_SUFFIX = ".err"
MAX_ERROR_CHARS = 10_000


class UnknownPackageError(LookupError):
    """No package and no marker for this book in the export folder."""


@dataclass(frozen=True)
class PackageStatus:
    exported: bool
    error: str | None


def markers(export_dir: Path, package_id: str) -> tuple[Path, Path]:
    """(ok marker, error marker) of a package."""
    return export_dir / f"{package_id}{OK_SUFFIX}", export_dir / f"{package_id}{ERROR_SUFFIX}"


def clear_markers(export_dir: Path, package_id: str) -> None:
    """A new export of the book starts its tracking afresh."""
    for marker in markers(export_dir, package_id):
        marker.unlink(missing_ok=True)


def package_status(export_dir: Path, package_id: str) -> PackageStatus:
    """An error marker wins over an ok marker: a refusal must not be hidden by an older success."""
    ok, error = markers(export_dir, package_id)
    if error.exists():
        text = error.read_text(encoding="utf-8", errors="replace")[:MAX_ERROR_CHARS].strip()
        return PackageStatus(False, text or f"the preservation system rejected package {package_id} without a reason")
    if ok.exists():
        return PackageStatus(True, None)
    if (export_dir / package_id).is_dir():
        return PackageStatus(False, None)
    raise UnknownPackageError(
        f"no package {package_id!r} in {export_dir}: it was never exported here (send an ExportRequest first) "
        f"or the export folder changed"
    )
