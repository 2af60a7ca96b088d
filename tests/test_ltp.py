"""ltp: preservation packages (file, MODS, MD5 manifest, info.xml), safe names, atomic moves, tracking."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest

from daemons.common.safe_xml import BadXMLError, parse_xml
from daemons.ltp import handler as ltp
from daemons.ltp.names import BadNameError
from daemons.ltp.tracking import UnknownPackageError
from daemons.rpc.handler import HandlerContext
from tests.fixtures.aleph_stand_in import oai_marc

BOOK = "3b5f1c0e-9a8d-4f6b-8e2a-7c1d0f9e8b7a"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
RECORD = oai_marc({
    "015": [{"a": "cnb000652691"}],
    "020": [{"a": "80-7174-091-8 (váz.) :"}],
    "100": [{"i1": "1", "a": "May, Karl,"}],
    "245": [{"i1": "1", "i2": "0", "a": "Ardistan a Džinistan /"}],
}, fixed={"LDR": "-----nam-a22------a-4500", "001": "cnb000652691"})
MODS = {"m": "http://www.loc.gov/mods/v3"}


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "state" / "ltp"
    ltp.configure(HandlerContext("ltp", {"export_dir": None, "creator": "NKP"}, data_dir, tmp_path / "state"))
    return data_dir / "export"


def request(**changes: object) -> ltp.ExportRequest:
    fields = dict(aleph_record=RECORD, book_uuid=BOOK, urn_nbn="urn:nbn:cz:nk-0001ab", url="http://e/book/1",
                  filename="kniha.pdf", b64_data=base64.b64encode(PDF).decode())
    return ltp.ExportRequest(**{**fields, **changes})


def test_export_writes_a_complete_package_under_the_default_export_dir(export_dir: Path) -> None:
    assert ltp.react(request(), [].append) is True

    package = export_dir / BOOK
    assert (package / "data" / "kniha.pdf").read_bytes() == PDF
    mods = parse_xml((package / "metadata" / "mods.xml").read_bytes())
    assert mods.xpath("m:identifier[@type='uuid']/text()", namespaces=MODS) == [BOOK]
    assert mods.xpath("m:identifier[@type='urn']/text()", namespaces=MODS) == ["urn:nbn:cz:nk-0001ab"]
    assert mods.xpath("m:location/m:url/text()", namespaces=MODS) == ["http://e/book/1"]
    assert (package / "metadata" / "marc.xml").read_text() == RECORD
    assert sorted(p.name for p in export_dir.iterdir()) == [BOOK]


def test_manifest_covers_every_file_and_md5sum_accepts_it(export_dir: Path) -> None:
    ltp.react(request(), [].append)
    package = export_dir / BOOK

    listed = sorted(line.split("  ", 1)[1] for line in (package / "manifest.md5").read_text().splitlines())
    on_disk = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    check = subprocess.run(["md5sum", "--check", "--strict", "manifest.md5"], cwd=package, capture_output=True,
                           text=True, check=False)

    assert listed == sorted(set(on_disk) - {"manifest.md5", "info.xml"})
    assert check.returncode == 0, check.stdout + check.stderr


def test_info_xml_describes_the_package(export_dir: Path) -> None:
    ltp.react(request(), [].append)
    package = export_dir / BOOK
    info = parse_xml((package / "info.xml").read_bytes())
    manifest = (package / "manifest.md5").read_bytes()
    items = [p for p in package.rglob("*") if p.is_file() and p.name != "info.xml"]

    assert info.findtext("packageid") == BOOK and info.findtext("creator") == "NKP"
    assert {(t.get("type"), t.text) for t in info.iter("titleid")} == {
        ("uuid", BOOK), ("urnnbn", "urn:nbn:cz:nk-0001ab"), ("isbn", "80-7174-091-8"), ("ccnb", "cnb000652691")}
    assert info.findtext("title") == "Ardistan a Džinistan"
    assert int(info.findtext("size")) == -(-sum(p.stat().st_size for p in items) // 1024)
    assert info.find("itemlist").get("itemtotal") == str(len(items))
    assert sorted(i.text for i in info.iter("item")) == sorted("/" + str(p.relative_to(package)) for p in items)
    checksum = info.find("checksum")
    assert checksum.get("checksum") == hashlib.md5(manifest).hexdigest() and checksum.text == "/manifest.md5"


@pytest.mark.parametrize("hostile", ["../../../../outside.pdf", "/etc/outside.pdf", "..\\..\\outside.pdf",
                                     "sub/dir/outside.pdf"])
def test_file_names_from_the_message_never_escape_the_package(export_dir: Path, tmp_path: Path, hostile: str) -> None:
    ltp.react(request(filename=hostile), [].append)

    assert (export_dir / BOOK / "data" / "outside.pdf").read_bytes() == PDF
    assert [p for p in tmp_path.rglob("outside.pdf")] == [export_dir / BOOK / "data" / "outside.pdf"]


@pytest.mark.parametrize("filename", ["..", "", "/", "../"])
def test_file_name_without_a_usable_name_is_refused(export_dir: Path, filename: str) -> None:
    with pytest.raises(BadNameError, match="no usable name"):
        ltp.react(request(filename=filename), [].append)


@pytest.mark.parametrize("book_uuid", ["../evil", "a/b", ".hidden", "", None, "x" * 200])
def test_book_uuid_that_is_not_a_plain_name_is_refused(export_dir: Path, book_uuid: object) -> None:
    with pytest.raises(BadNameError, match="cannot name a package"):
        ltp.react(request(book_uuid=book_uuid), [].append)
    assert not export_dir.exists() or list(export_dir.iterdir()) == []


def test_failed_export_leaves_neither_package_nor_temp_dir(export_dir: Path) -> None:
    ltp.react(request(book_uuid="other-book"), [].append)
    with pytest.raises(BadXMLError, match="aleph_record"):
        ltp.react(request(aleph_record="<not-marc/>"), [].append)
    with pytest.raises(ValueError, match="b64_data is not valid base64"):
        ltp.react(request(b64_data="***"), [].append)
    assert sorted(p.name for p in export_dir.iterdir()) == ["other-book"]


def test_new_export_replaces_the_old_package_and_restarts_tracking(export_dir: Path) -> None:
    ltp.react(request(), [].append)
    (export_dir / f"{BOOK}.err").write_text("checksum mismatch")
    ltp.react(request(filename="opraveno.pdf"), [].append)

    assert [p.name for p in (export_dir / BOOK / "data").iterdir()] == ["opraveno.pdf"]
    assert sorted(p.name for p in export_dir.iterdir()) == [BOOK]
    assert ltp.react(ltp.TrackingRequest(BOOK), [].append) == ltp.TrackingResponse(BOOK, False, None)


def test_tracking_reads_the_preservation_systems_markers(export_dir: Path) -> None:
    ltp.react(request(), [].append)
    assert ltp.react(ltp.TrackingRequest(BOOK), [].append) == ltp.TrackingResponse(BOOK, False, None)

    (export_dir / f"{BOOK}.err").write_text("invalid PDF/A\n")
    assert ltp.react(ltp.TrackingRequest(BOOK), [].append) == ltp.TrackingResponse(BOOK, False, "invalid PDF/A")

    (export_dir / f"{BOOK}.err").unlink()
    (export_dir / f"{BOOK}.ok").touch()
    assert ltp.react(ltp.TrackingRequest(BOOK), [].append) == ltp.TrackingResponse(BOOK, True, None)


def test_tracking_an_unknown_book_names_it_and_the_folder(export_dir: Path) -> None:
    with pytest.raises(UnknownPackageError, match=f"no package 'never-sent' in {export_dir}"):
        ltp.react(ltp.TrackingRequest("never-sent"), [].append)


def test_export_dir_option_is_honoured_and_health_reports_an_unusable_one(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    ltp.configure(HandlerContext("ltp", {"export_dir": str(blocker / "export")}, tmp_path, tmp_path))
    assert f"export_dir {blocker / 'export'} cannot be created" in ltp.health()

    ltp.configure(HandlerContext("ltp", {"export_dir": str(tmp_path / "elsewhere")}, tmp_path, tmp_path))
    assert ltp.health() is None
    ltp.react(request(), [].append)
    assert (tmp_path / "elsewhere" / BOOK / "info.xml").is_file()
