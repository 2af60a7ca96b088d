"""The ExtendedLog record parser: both formats, ProFTPD's cut-and-glued records, bad lines."""

from __future__ import annotations

import pytest

from ftp_monitor.records import CUT_LENGTH, MalformedRecord, parse, parse_edeposit, parse_legacy, split_glued
from tests.fixtures.ftp_log import edeposit_record, legacy_record


def test_edeposit_record_fields_are_parsed_by_name():
    record = parse_edeposit(edeposit_record("STOR", "/home/ftp/alice/kniha.pdf", pid=77, size=1234))
    assert record.command == "STOR"
    assert record.user == "alice"
    assert record.path == "/home/ftp/alice/kniha.pdf"
    assert record.session_pid == 77
    assert record.status == 226
    assert record.bytes_transferred == 1234
    assert record.transfer_status == "success"
    assert record.timestamp == "2026-11-27T10:00:00+0100"


def test_path_keeps_tabs_and_commas_because_it_is_last():
    odd = "/home/ftp/alice/a\tb, c.pdf"
    assert parse_edeposit(edeposit_record("STOR", odd)).path == odd


def test_legacy_record_is_read_from_the_right_so_paths_may_hold_commas():
    record = parse_legacy(legacy_record("DELE", "/home/ftp/bob/x, y.pdf", user="bob", epoch=1700000000))
    assert (record.path, record.user, record.command, record.timestamp) == ("/home/ftp/bob/x, y.pdf", "bob", "DELE",
                                                                             "1700000000")
    assert record.status is None


@pytest.mark.parametrize("line, why", [
    (b"garbage", "fields"),
    (b"\xff\xfe\tnot utf-8", "UTF-8"),
    (edeposit_record("STOR", "/x").replace(b"edeposit1", b"edeposit9"), "tag"),
    (edeposit_record("STOR", "/x").replace(b"\t4242\t", b"\tpid?\t"), "session pid"),
])
def test_malformed_edeposit_lines_raise_with_the_reason(line, why):
    with pytest.raises(MalformedRecord, match=why):
        parse(line, "edeposit")


def test_non_utf8_legacy_line_is_malformed():
    with pytest.raises(MalformedRecord, match="UTF-8"):
        parse(b"/home/ftp/\xe9.pdf, alice, STOR, 1700000000", "legacy")


def test_two_records_glued_at_the_cut_are_split_and_the_second_parses():
    long_path = "/home/ftp/alice/" + "d" * 5000 + ".pdf"
    cut = edeposit_record("STOR", long_path)[:CUT_LENGTH]  # ProFTPD cuts and drops the newline
    following = edeposit_record("DELE", "/home/ftp/alice/delete_me_to_import_files.txt")
    pieces = split_glued(cut + following, "edeposit")
    assert pieces == [cut, following]
    assert parse(pieces[1], "edeposit").command == "DELE"


def test_a_long_but_whole_line_is_not_split():
    line = edeposit_record("STOR", "/home/ftp/alice/" + "edeposit1\t" * 10)
    assert split_glued(line, "edeposit") == [line]


def test_legacy_glued_line_splits_at_the_cut_length():
    cut = legacy_record("STOR", "/" + "p" * 5000)[:CUT_LENGTH]
    following = legacy_record("DELE", "/home/ftp/alice/x.pdf")
    assert split_glued(cut + following, "legacy") == [cut, following]


def test_the_fast_event_encoding_gives_the_same_bytes_as_serialize():
    from daemons.rpc.wire import serialize
    from ftp_monitor.events import encode_event
    from ftp_monitor.structures import FileEvent

    for event in (FileEvent("renamed", "žluťoučký", "/home/a \"b\"\t.pdf", "/home/ñ.pdf", None, 7, "::1", "ftp",
                            "2026-11-27T10:00:00+0100", 250),
                  FileEvent("uploaded", "bob", "/x", None, 0, None, None, None, "1795000000", None)):
        assert encode_event(event) == serialize(event)
