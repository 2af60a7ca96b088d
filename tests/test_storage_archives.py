"""Archives in storage: the round trip, and hostile ZIPs that must leave nothing behind."""

from __future__ import annotations

import base64
import io
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemons.rpc.handler import HandlerContext
from daemons.storage import handler as storage
from daemons.storage.archives import UnsafeArchiveError

EMPTY_ARCHIVE = storage.Archive(None, None, None, None, None)


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def archive_record(data: bytes, uuid: str = "arch-1", isbn: str | None = "80-1") -> storage.Archive:
    return storage.Archive(isbn, uuid, None, base64.b64encode(data).decode("ascii"), None)


def save(record: object) -> object:
    return storage.react(storage.SaveRequest(record), [].append)


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


@pytest.fixture
def data_dir(state_dir: Path) -> Iterator[Path]:
    options = {"max_archive_bytes": "100000", "max_archive_files": "20"}
    storage.configure(HandlerContext(name="storage", options=options, data_dir=state_dir / "storage",
                                     state_dir=state_dir))
    yield state_dir / "storage"
    storage._storage.close()
    storage._storage = None


def test_archive_round_trip_unpacks_into_dir_pointer_and_returns_the_zip(data_dir):
    members = {"kniha/index.html": b"<h1>Kapitola</h1>", "kniha/obrázky/a.png": b"\x89PNG", "README": b"r"}
    data = make_zip(members)
    stored = save(archive_record(data))
    assert stored.b64_data is None and stored.uuid == "arch-1"
    unpacked = Path(stored.dir_pointer)
    assert {p.relative_to(unpacked).as_posix(): p.read_bytes() for p in files_under(unpacked)} == members
    [found] = storage.react(storage.SearchRequest(EMPTY_ARCHIVE._replace(isbn="80-1")), [].append).records
    assert base64.b64decode(found.b64_data) == data and found.dir_pointer == stored.dir_pointer
    [light] = storage.react(storage.SearchRequest(EMPTY_ARCHIVE._replace(uuid="arch-1"), True), [].append).records
    assert light.b64_data is None


def test_saving_an_archive_again_under_its_uuid_replaces_the_old_unpacked_tree(data_dir):
    first = save(archive_record(make_zip({"a.txt": b"one"})))
    second = save(archive_record(make_zip({"b.txt": b"two"})))
    assert not Path(first.dir_pointer).exists()
    assert (Path(second.dir_pointer) / "b.txt").read_bytes() == b"two"
    records = storage.react(storage.SearchRequest(EMPTY_ARCHIVE, True), [].append).records
    assert [r.dir_pointer for r in records] == [second.dir_pointer]


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("innocent")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def bomb_zip() -> bytes:
    """Declares a tiny size in its headers but inflates to 1 MB (reading stops at the declared size)."""
    data = bytearray(make_zip({"bomb.txt": b"0" * 1_000_000}))
    header = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[header + 22:header + 26] = (10).to_bytes(4, "little")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("data, message", [
    (make_zip({"../../escaped.txt": b"x"}), r"'\.\./\.\./escaped\.txt' points outside the archive"),
    (make_zip({"ok/../../escaped.txt": b"x"}), r"points outside the archive"),
    (make_zip({"/etc/cron.d/evil": b"x"}), r"'/etc/cron\.d/evil' has an absolute path"),
    (make_zip({"..\\..\\evil.bat": b"x"}), r"points outside the archive"),
    (make_zip({"C:/Windows/evil": b"x"}), r"has an absolute path"),
    (symlink_zip(), r"'innocent' is a symbolic link"),
    (make_zip({"big.bin": b"0" * 200_000}), r"unpacks to 200000 bytes, more than max_archive_bytes = 100000"),
    (bomb_zip(), r"'bomb\.txt' cannot be read: Bad CRC-32"),
    (make_zip({f"f{n}": b"x" for n in range(21)}), r"21 members, more than max_archive_files = 20"),
    (b"this is not a zip file", r"Archive\.b64_data is not a ZIP archive"),
])
def test_hostile_archives_are_refused_and_leave_nothing_behind(data_dir, tmp_path, data, message):
    with pytest.raises(UnsafeArchiveError, match=message):
        save(archive_record(data))
    assert files_under(data_dir / "archives") == []
    assert not (tmp_path / "escaped.txt").exists() and not list(data_dir.rglob("*escaped*"))
    assert storage.react(storage.SearchRequest(EMPTY_ARCHIVE, True), [].append).records == []


def test_a_member_clashing_with_a_directory_of_the_same_name_is_refused(data_dir):
    with pytest.raises(UnsafeArchiveError, match="clashes"):
        save(archive_record(make_zip({"a": b"file", "a/b": b"below a file"})))
    assert files_under(data_dir / "archives") == []
