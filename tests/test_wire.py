"""The old wire format, without a broker: encoding, decoding and the structure registry."""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path

import pytest

from daemons.aleph import handler as aleph
from daemons.rpc import answers
from daemons.rpc.wire import StructureRegistry, UnknownStructureError, deserialize, serialize
from tests.fixtures.wire_files import WIRE

Inner = namedtuple("Inner", "value")
Outer = namedtuple("Outer", "items mapping inner")


def test_every_old_aleph_message_decodes_into_its_structures() -> None:
    registry = StructureRegistry.from_modules([aleph])
    request = deserialize((WIRE / "aleph-search-request.json").read_bytes(), registry)
    assert request == aleph.SearchRequest(aleph.ISBNQuery("80-251-0225-4", "nkc"))
    count = deserialize((WIRE / "aleph-count-request.json").read_bytes(), registry)
    assert isinstance(count, aleph.CountRequest) and count.query.ISBN == "80-251-0225-4"


def test_encoding_round_trips_nested_structures() -> None:
    registry = StructureRegistry([Inner, Outer])
    value = Outer([Inner(1), Inner("two")], {"k": Inner(None)}, Inner([1.5, True]))
    assert deserialize(serialize(value), registry) == value


def test_encoding_tags_structures_with_their_class_name() -> None:
    assert json.loads(serialize(Inner(3))) == {"value": 3, "__nt_name": "Inner"}
    assert json.loads(serialize([None, True, 1, "s", {"a": (1, 2)}])) == [None, True, 1, "s", {"a": [1, 2]}]


def test_unknown_structure_is_refused_and_names_what_is_accepted() -> None:
    with pytest.raises(UnknownStructureError, match="unknown structure 'os.system'; this daemon accepts: Inner"):
        deserialize(b'{"__nt_name": "os.system", "value": 1}', StructureRegistry([Inner]))


def test_extra_or_missing_fields_are_clear_errors() -> None:
    registry = StructureRegistry([Inner])
    with pytest.raises(ValueError, match="unknown field"):
        deserialize(b'{"__nt_name": "Inner", "value": 1, "evil": 2}', registry)
    with pytest.raises(ValueError, match=r"missing field\(s\) value"):
        deserialize(b'{"__nt_name": "Inner"}', registry)


def test_field_defaults_fill_fields_old_clients_leave_out() -> None:
    query = deserialize(b'{"__nt_name": "ISBNQuery", "ISBN": "1"}', StructureRegistry.from_modules([aleph]))
    assert query == aleph.ISBNQuery("1", "nkc")


def test_lenient_decoding_keeps_unknown_structures_as_dicts() -> None:
    value = deserialize(b'{"__nt_name": "Foreign", "x": 1}', StructureRegistry(), strict=False)
    assert value == {"__nt_name": "Foreign", "x": 1}


def test_non_utf8_body_is_an_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        deserialize(b"\xff\xfe", StructureRegistry())


@pytest.mark.parametrize(("incoming", "expected"), [
    ("request", "result"), ("tenant.request", "tenant.result"), ("a.b.request", "a.b.result"), ("other", "result"),
])
def test_answer_routing_key_keeps_the_request_prefix(incoming: str, expected: str) -> None:
    assert answers.routing_key_for(incoming, "request", "result") == expected


def test_error_answer_carries_the_exception_headers() -> None:
    try:
        json.loads("asd")
    except ValueError as exc:
        answer = answers.failure(exc, "u-1", "result", None, None)
    headers = answer.properties.headers
    assert answer.body == b"Expecting value: line 1 column 1 (char 0)"
    assert answer.properties.content_type == "application/text"
    assert answer.properties.delivery_mode == 2
    assert headers["exception_name"] == "JSONDecodeError"
    assert headers["exception_type"] == "<class 'json.decoder.JSONDecodeError'>"
    assert "json.loads" in headers["traceback"]


def test_the_wire_samples_match_the_design_copy() -> None:
    design_copy = Path(__file__).resolve().parents[2] / "shared" / "wire"
    if not design_copy.is_dir():
        return  # a checkout without the design folder beside it has only our copy
    ours = {p.name: p.read_bytes() for p in WIRE.iterdir()}
    theirs = {p.name: p.read_bytes() for p in design_copy.iterdir()}
    assert ours == theirs


@pytest.mark.parametrize("char", ["a", "\u00e9", "\u20ac", "\U0001f600"])
def test_the_quick_size_check_of_a_response_never_lets_an_oversized_one_through(char: str) -> None:
    # The longest UUID the quick check accepts, with the longest correlation id a request can carry.
    frame_max = 4096
    length = max(n for n in range(frame_max) if answers._surely_fits(char * n, frame_max))
    answer = answers.success("x", char * length, "result", None, "c" * 255, frame_max=frame_max)
    assert answers.header_bytes(answer.properties) <= frame_max
    with pytest.raises(answers.AnswerCannotFit):
        answers.success("x", char * frame_max, "result", None, None, frame_max=frame_max)
