"""The aleph daemon end to end: a real worker process, the real broker, the X-Services stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemons.aleph import handler as aleph
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config
from tests.fixtures.aleph_stand_in import AlephStandIn, oai_marc
from tests.fixtures.wire_files import WIRE

# The old clients' messages, kept next to the checkout (../shared/wire/).
WIRE_DIR = WIRE


def wire_file(name: str) -> bytes:
    return (WIRE_DIR / name).read_bytes()


def client(vhost: str, exchange: str) -> RPCClient:
    return RPCClient(BROKER, vhost, exchange, registry=StructureRegistry.from_modules([aleph]))


REJECTED = aleph.EPublication(
    ISBN="80-251-0225-4", invalid_ISBN=[], id_number="", nazev="Kniha", podnazev="", vazba="online", cena="",
    castDil="", nazevCasti="", nakladatelVydavatel="N", datumVydani="2015", poradiVydani="1.",
    zpracovatelZaznamu="Z", format="pdf", url="", mistoVydani="Praha", ISBNSouboruPublikaci=[], autori=[],
    originaly=[], internal_url="", anotace="",
)


@pytest.mark.slow
def test_original_search_request_bytes_get_a_search_result_and_every_exchange_answers(
        vhost: str, state_dir: Path, tmp_path: Path) -> None:
    headers = json.loads(wire_file("aleph-search-request.headers.json"))
    with AlephStandIn() as stand_in:
        stand_in.add_record("000652691", oai_marc({
            "020": [{"a": "80-251-0225-4 (brož.) :", "c": "Kč 99,00"}],
            "245": [{"a": "Kniha ze starého klienta /"}],
        }, fixed={"001": "cnb000652691"}))
        stand_in.reject_exports("Error: the form is closed")
        config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {
            "aleph": {"options": {"url": stand_in.url, "export_url": stand_in.export_url}},
        })
        with running_worker(config, "aleph", tmp_path / "aleph.log"), client(vhost, "search") as search, \
                client(vhost, "count") as counter, client(vhost, "validate") as validator, \
                client(vhost, "export") as exporter:
            result = search.call(wire_file("aleph-search-request.json"), uuid=headers["UUID"], timeout=30)
            count = counter.call(wire_file("aleph-count-request.json"), timeout=30)
            validation = validator.call(wire_file("aleph-isbn-validation-request.json"), timeout=30)
            with pytest.raises(RemoteError) as rejected:
                exporter.call(aleph.ExportRequest(REJECTED), timeout=30)

    assert isinstance(result, aleph.SearchResult)
    [record] = result.records
    assert isinstance(record, aleph.AlephRecord) and record.docNumber == "000652691"
    assert record.parsed_info.ISBN == ["80-251-0225-4"] and record.parsed_info.nazev == "Kniha ze starého klienta"
    assert count == aleph.CountResult(1)
    assert validation == aleph.ISBNValidationResult(True)
    assert rejected.value.exception_name == "ExportRejectedException"
    assert "the form is closed" in rejected.value.exception
