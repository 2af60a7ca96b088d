"""Import of a user's home: pairing rules, metadata formats, logs, lock file and safe clean-up."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from ftp_monitor.importer import ERROR_LOG, IMPORT_LOG, ImportSettings, finish_import, prepare_import
from ftp_monitor.metadata import MetadataError, parse_metadata
from ftp_monitor.pairing import PairingRules
from ftp_monitor.structures import DataPair, EbookFile, MetadataFile

LOCK = "delete_me_to_import_files.txt"
ISBN = "80-86056-31-7"
META = {
    "ISBN knihy": ISBN, "Vazba knihy": "brož.", "Název": "Zen", "Místo vydání": "Praha", "Nakladatel": "Garda",
    "Datum vydání": "09/2012", "Pořadí vydání": "1", "Zpracovatel záznamu": "Franta",
}
BINARY = bytes(range(256)) * 4 + b"\x00\xff not utf-8 \xc3"


def meta_json(**changes: str) -> bytes:
    return json.dumps({**META, **changes}, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home" / "alice"
    path.mkdir(parents=True)
    return path


def by_type(requests: list) -> dict[str, list]:
    found: dict[str, list] = {"pair": [], "ebook": [], "meta": []}
    for item in requests:
        key = {DataPair: "pair", EbookFile: "ebook", MetadataFile: "meta"}[type(item)]
        found[key].append(item)
    return found


def test_same_name_files_pair_and_binary_content_travels_exactly(home):
    (home / "kniha.epub").write_bytes(BINARY)
    (home / "kniha.json").write_bytes(meta_json())
    (home / "other.pdf").write_bytes(b"%PDF")
    prepared = prepare_import("alice", home, ImportSettings())
    items = by_type(prepared.request.requests)
    assert len(items["pair"]) == 1 and len(items["ebook"]) == 1
    pair = items["pair"][0]
    assert pair.ebook_file.filename == "kniha.epub"
    assert base64.b64decode(pair.ebook_file.b64_data) == BINARY
    assert pair.metadata_file.parsed_data.ISBN == ISBN
    assert pair.metadata_file.parsed_data.nazev == "Zen"
    assert prepared.errors == []


def test_directory_with_exactly_two_files_pairs_them(home):
    (home / "sub").mkdir()
    (home / "sub" / "book.pdf").write_bytes(b"pdf")
    (home / "sub" / "info.yaml").write_text("ISBN: 80-86056-31-7\nvazba: brož.\nnazev: Zen\nmisto: Praha\n"
                                            "nakladatel: Garda\ndatum: 09/2012\nporadi: '1'\nzpracovatel: F\n")
    items = by_type(prepare_import("alice", home, ImportSettings()).request.requests)
    assert [(p.metadata_file.filename, p.ebook_file.filename) for p in items["pair"]] == [("sub/info.yaml",
                                                                                          "sub/book.pdf")]


def test_same_dir_pairing_off_keeps_the_two_files_apart(home):
    (home / "sub").mkdir()
    (home / "sub" / "book.pdf").write_bytes(b"pdf")
    (home / "sub" / "info.json").write_bytes(meta_json())
    settings = ImportSettings(rules=PairingRules(same_dir_pairing=False))
    items = by_type(prepare_import("alice", home, settings).request.requests)
    assert items["pair"] == [] and len(items["ebook"]) == 1 and len(items["meta"]) == 1


def test_metadata_named_by_isbn_pairs_with_the_data_file_of_that_isbn_anywhere(home):
    for sub in ("a", "b"):
        (home / sub).mkdir()
    (home / "a" / f"{ISBN}.json").write_bytes(meta_json())
    (home / "a" / "x.txt").write_bytes(b"x")
    (home / "a" / "y.txt").write_bytes(b"y")
    (home / "b" / f"{ISBN}.pdf").write_bytes(b"pdf")
    (home / "b" / "z.txt").write_bytes(b"z")
    (home / "b" / "w.txt").write_bytes(b"w")
    items = by_type(prepare_import("alice", home, ImportSettings()).request.requests)
    assert [(p.metadata_file.filename, p.ebook_file.filename) for p in items["pair"]] == [
        (f"a/{ISBN}.json", f"b/{ISBN}.pdf")]
    off = by_type(prepare_import("alice", home, ImportSettings(rules=PairingRules(isbn_pairing=False)))
                  .request.requests)
    assert off["pair"] == []


def test_bad_metadata_is_reported_and_its_data_file_still_imported(home):
    (home / "kniha.pdf").write_bytes(b"pdf")
    (home / "kniha.json").write_bytes(meta_json(**{"ISBN knihy": "80-86056-31-0"}))
    prepared = prepare_import("alice", home, ImportSettings())
    items = by_type(prepared.request.requests)
    assert [e.filename for e in items["ebook"]] == ["kniha.pdf"] and items["pair"] == []
    assert "kniha.json" in prepared.request.error_log and "not valid" in prepared.request.error_log


def test_finish_removes_imported_files_keeps_bad_ones_writes_logs_and_recreates_the_lock(home):
    (home / "sub").mkdir()
    (home / "sub" / "a.pdf").write_bytes(b"a")
    (home / "sub" / "b.pdf").write_bytes(b"b")
    (home / "sub" / "c.pdf").write_bytes(b"c")
    (home / "broken.json").write_text("{")
    prepared = prepare_import("alice", home, ImportSettings())
    finish_import(prepared)
    assert not (home / "sub").exists()  # emptied directories go too
    assert (home / "broken.json").exists()  # LEAVE_BAD_FILES
    assert "sub/a.pdf" in (home / IMPORT_LOG).read_text()
    assert "broken.json" in (home / ERROR_LOG).read_text()
    assert "Delete this file" in (home / LOCK).read_text()


def test_leave_bad_files_off_removes_bad_metadata_too(home):
    (home / "broken.json").write_text("{")
    (home / "ok.pdf").write_bytes(b"ok")
    finish_import(prepare_import("alice", home, ImportSettings(leave_bad_files=False)))
    assert not (home / "broken.json").exists()


def test_oversized_file_is_reported_not_imported_and_left_in_place(home):
    (home / "big.pdf").write_bytes(b"x" * 2000)
    (home / "small.pdf").write_bytes(b"x")
    prepared = prepare_import("alice", home, ImportSettings(max_file_bytes=1000))
    assert [e.filename for e in prepared.request.requests] == ["small.pdf"]
    assert "big.pdf" in prepared.request.error_log and "max_file_bytes" in prepared.request.error_log
    finish_import(prepared)
    assert (home / "big.pdf").exists() and not (home / "small.pdf").exists()


def test_file_changed_after_reading_is_not_removed(home):
    (home / "book.pdf").write_bytes(b"first upload")
    prepared = prepare_import("alice", home, ImportSettings())
    (home / "book.pdf").write_bytes(b"a newer upload, not imported yet")
    finish_import(prepared)
    assert (home / "book.pdf").read_bytes() == b"a newer upload, not imported yet"


def test_symlinks_are_neither_imported_nor_followed_when_writing_logs(home, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (home / "link.pdf").symlink_to(outside)
    (home / IMPORT_LOG).symlink_to(outside)
    (home / "real.pdf").write_bytes(b"pdf")
    prepared = prepare_import("alice", home, ImportSettings())
    assert [e.filename for e in prepared.request.requests] == ["real.pdf"]
    finish_import(prepared)
    assert outside.read_text() == "keep me"
    assert not (home / IMPORT_LOG).is_symlink() and "real.pdf" in (home / IMPORT_LOG).read_text()


def test_create_import_log_off_writes_no_import_log(home):
    (home / "a.pdf").write_bytes(b"a")
    finish_import(prepare_import("alice", home, ImportSettings(create_import_log=False)))
    assert not (home / IMPORT_LOG).exists()
    assert (home / LOCK).exists()


def test_lock_and_log_files_are_not_imported(home):
    for name in (LOCK, IMPORT_LOG, ERROR_LOG):
        (home / name).write_text("x")
    assert prepare_import("alice", home, ImportSettings()).request.requests == []


@pytest.mark.parametrize("name, data", [
    ("m.csv", "ISBN,80-86056-31-7\nvazba,brož.\nnazev,Zen\nmisto,Praha\nnakladatel,Garda\ndatum,09/2012\n"
              "poradi,1\nzpracovatel,F\n"),
    ("m.xml", "<root>" + "".join(f'<item key="{k}">{v}</item>' for k, v in META.items()) + "</root>"),
    ("m.json", json.dumps(list(META.items()))),
])
def test_every_metadata_format_gives_the_same_epublication(name, data):
    parsed = parse_metadata(name, data.encode("utf-8"))
    assert (parsed.ISBN, parsed.nazev, parsed.mistoVydani) == (ISBN, "Zen", "Praha")


def test_missing_keywords_are_named_in_the_error():
    with pytest.raises(MetadataError, match="zpracovatel"):
        parse_metadata("m.json", json.dumps({k: v for k, v in META.items() if "Zpracovatel" not in k}).encode())


def test_xml_with_a_doctype_is_refused_and_nothing_leaks(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    items = "".join(f'<item key="{k}">{v}</item>' for k, v in META.items() if k != "Název")
    evil = (f'<?xml version="1.0"?><!DOCTYPE root [<!ENTITY e SYSTEM "file://{secret}">]>'
            f'<root>{items}<item key="nazev">&e;</item></root>')
    with pytest.raises(MetadataError, match="declares a DOCTYPE") as error:
        parse_metadata("m.xml", evil.encode())
    assert "top secret" not in str(error.value)


def test_lock_file_is_owned_like_the_home(home):
    prepared = prepare_import("alice", home, ImportSettings())
    finish_import(prepared)
    assert os.stat(home / LOCK).st_uid == os.stat(home).st_uid


def test_items_beyond_the_import_size_stay_for_the_next_import(home):
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        (home / name).write_bytes(b"x" * 300)  # 400 bytes each in base64
    prepared = prepare_import("alice", home, ImportSettings(max_import_bytes=1000))
    assert [e.filename for e in prepared.request.requests] == ["a.pdf", "b.pdf"]
    assert "'c.pdf'" in prepared.request.error_log and "max_import_bytes" in prepared.request.error_log
    finish_import(prepared)
    assert (home / "c.pdf").exists() and not (home / "a.pdf").exists()


def test_an_item_larger_than_any_import_is_reported_not_sent(home):
    (home / "huge.pdf").write_bytes(b"x" * 3000)
    prepared = prepare_import("alice", home, ImportSettings(max_import_bytes=1000))
    assert prepared.request.requests == [] and "'huge.pdf'" in prepared.request.error_log


def test_broken_passwd_file_falls_back_to_the_global_switches(tmp_path):
    from ftp_monitor.events import MonitorRules, RecordHandler

    passwd = tmp_path / "passwd"
    passwd.write_text("not a passwd line\n")
    handler = RecordHandler(MonitorRules(tmp_path, passwd, "lock", defaults=ImportSettings(leave_bad_files=False)))
    chosen = handler.settings_for("alice")
    assert chosen.leave_bad_files is False and chosen.rules.isbn_pairing is True
