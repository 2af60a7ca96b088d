"""aleph_link_export as plain function calls: the outgoing document, Aleph's results, restarts, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from daemons.aleph_link_export import handler as handler
from daemons.aleph_link_export.files import OUTGOING_NAME, ResultFileError
from daemons.aleph_link_export.requests import LinkRequestError
from daemons.rpc.handler import HandlerContext

REQUEST = handler.LinkUpdateRequest(
    uuid="c1f4d6e2-0000-4000-8000-000000000001",
    doc_number="000012345",
    document_urls=["https://edeposit.example/book.epub", handler.LinkDescription("https://edeposit.example/b.pdf",
                                                                                 "pdf")],
    kramerius_url="https://kramerius.example/uuid:c1f4",
    urn_nbn="urn:nbn:cz:nk-000001",
    session_id="session-1",
)


def configure(data_dir: Path) -> None:
    handler.configure(HandlerContext(name="aleph_link_export", options={}, data_dir=data_dir, state_dir=data_dir))


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    configure(tmp_path / "data")
    yield tmp_path / "data"


def outgoing_records(data_dir: Path) -> list[etree._Element]:
    root = etree.parse(str(data_dir / "outgoing" / OUTGOING_NAME)).getroot()
    assert root.tag == "records"
    return root.findall("record")


def aleph_answers(data_dir: Path, *results: tuple[str, str, str | None], name: str = "results.xml") -> Path:
    """Play Aleph: write its result document into the incoming folder."""
    items = "".join(
        f'<result session_id="{sid}"><status>{status}</status>' + (f"<reason>{reason}</reason>" if reason else "")
        + "</result>" for sid, status, reason in results)
    path = data_dir / "incoming" / name
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<results>{items}</results>\n')
    return path


def test_link_update_request_is_written_for_aleph(data_dir: Path) -> None:
    assert handler.react(REQUEST, [].append) is None
    [record] = outgoing_records(data_dir)
    assert record.get("session_id") == "session-1"
    assert record.findtext("uuid") == REQUEST.uuid
    assert record.findtext("doc_number") == "000012345"
    assert record.findtext("urn_nbn") == "urn:nbn:cz:nk-000001"
    assert record.findtext("kramerius_url") == "https://kramerius.example/uuid:c1f4"
    urls = [(u.text, u.get("format")) for u in record.findall("document_url")]
    assert urls == [("https://edeposit.example/book.epub", None), ("https://edeposit.example/b.pdf", "pdf")]


def test_status_sends_every_result_earlier_ones_as_progress(data_dir: Path) -> None:
    for n in (1, 2, 3):
        handler.react(REQUEST._replace(session_id=f"session-{n}"), [].append)
    result_file = aleph_answers(data_dir, ("session-1", "OK", None), ("session-2", "ERROR", "no such record"),
                                ("session-3", "OK", None))
    progress: list[object] = []
    final = handler.react(handler.StatusRequest(), progress.append)
    assert progress == [handler.LinkUpdateResponse("OK", "session-1", None),
                        handler.LinkUpdateResponse("ERROR", "session-2", "no such record")]
    assert final == handler.LinkUpdateResponse("OK", "session-3", None)
    assert not result_file.exists()
    assert outgoing_records(data_dir) == []
    assert handler.react(handler.StatusRequest(), progress.append) is None


def test_link_update_request_answers_results_already_waiting(data_dir: Path) -> None:
    handler.react(REQUEST, [].append)
    aleph_answers(data_dir, ("session-1", "OK", None))
    answer = handler.react(REQUEST._replace(session_id="session-2"), [].append)
    assert answer == handler.LinkUpdateResponse("OK", "session-1", None)
    assert [r.get("session_id") for r in outgoing_records(data_dir)] == ["session-2"]


def test_pending_requests_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    configure(data_dir)
    handler.react(REQUEST, [].append)
    (data_dir / "outgoing" / OUTGOING_NAME).unlink()
    configure(data_dir)  # a new worker process on the same state rewrites the document at once
    assert [r.get("session_id") for r in outgoing_records(data_dir)] == ["session-1"]
    assert handler.react(handler.StatusRequest(), [].append) is None
    aleph_answers(data_dir, ("session-1", "OK", None))
    assert handler.react(handler.StatusRequest(), [].append).session_id == "session-1"


def test_result_file_read_before_a_crash_is_not_delivered_twice(data_dir: Path) -> None:
    handler.react(REQUEST, [].append)
    text = aleph_answers(data_dir, ("session-1", "OK", None)).read_text()
    assert handler.react(handler.StatusRequest(), [].append) is not None
    aleph_answers(data_dir, ("session-1", "OK", None)).write_text(text)  # as if the removal never happened
    assert handler.react(handler.StatusRequest(), [].append) is None


def test_results_not_sent_go_back_when_the_broker_is_lost(data_dir: Path) -> None:
    aleph_answers(data_dir, ("a", "OK", None), ("b", "OK", None), ("c", "ERROR", "x"))

    def broker_lost(response: object) -> None:
        raise ConnectionError("broker lost")

    with pytest.raises(ConnectionError):
        handler.react(handler.StatusRequest(), broker_lost)
    progress: list[object] = []
    final = handler.react(handler.StatusRequest(), progress.append)
    assert [r.session_id for r in progress] + [final.session_id] == ["a", "b", "c"]


def test_bad_result_file_is_moved_aside_and_named(data_dir: Path) -> None:
    bad = data_dir / "incoming" / "broken.xml"
    bad.write_text("<results><result session_id='s'><status>MAYBE</status></result></results>")
    with pytest.raises(ResultFileError, match=r"broken.xml: result session_id='s' has status 'MAYBE'") as error:
        handler.react(handler.StatusRequest(), [].append)
    assert not bad.exists()
    [moved] = (data_dir / "rejected").iterdir()
    assert moved.name.endswith("broken.xml") and str(moved) in str(error.value)


def test_result_file_with_external_entity_is_refused(data_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    (data_dir / "incoming" / "evil.xml").write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE results [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        f'<results><result session_id="s"><status>OK</status><reason>&xxe;</reason></result></results>')
    with pytest.raises(ResultFileError, match="declares a DOCTYPE") as error:
        handler.react(handler.StatusRequest(), [].append)
    assert "TOP-SECRET-CONTENT" not in str(error.value)


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("session_id", None, r"session_id is None: it must be a non-empty string"),
    ("doc_number", ["1"], r"doc_number = \['1'\]: expected a string, not list"),
    ("document_urls", [42], r"document_urls\[0\] = 42: expected a URL string or LinkDescription"),
    ("uuid", "a\x00b", r"uuid = 'a\\x00b': contains control characters"),
])
def test_bad_request_field_is_named_with_the_fix(data_dir: Path, field: str, value: object, expected: str) -> None:
    with pytest.raises(LinkRequestError, match=expected):
        handler.react(REQUEST._replace(**{field: value}), [].append)
    assert outgoing_records(data_dir) == []


def test_same_folder_for_both_directions_is_refused(tmp_path: Path) -> None:
    options = {"outgoing_dir": str(tmp_path / "x"), "incoming_dir": str(tmp_path / "x")}
    with pytest.raises(handler.FolderConfigError, match="outgoing_dir and incoming_dir are both"):
        handler.configure(HandlerContext(name="aleph_link_export", options=options, data_dir=tmp_path,
                                         state_dir=tmp_path))


def test_folder_that_cannot_be_created_is_named_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    options = {"outgoing_dir": str(tmp_path / "a-file" / "out")}
    with pytest.raises(OSError, match=r"outgoing_dir .*a-file/out: cannot create it .*give the daemon's user write"):
        handler.configure(HandlerContext(name="aleph_link_export", options=options, data_dir=tmp_path / "d",
                                         state_dir=tmp_path))


def test_healthy_exchange_has_no_note(data_dir: Path) -> None:
    assert handler.health() is None
