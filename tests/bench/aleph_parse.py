"""How long the aleph daemon takes to turn 1,000 OAI-MARC records into AlephRecords.

Two numbers: parsing alone (OAI-MARC -> EPublication + SemanticInfo), and a whole SearchRequest for 1,000
records against the local X-Services stand-in (find, present in batches of 100, parse).
Run: .venv/bin/python tests/bench/aleph_parse.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.aleph import handler as aleph  # noqa: E402
from daemons.aleph.xservices import PresentedRecord  # noqa: E402
from daemons.common.safe_xml import parse_xml  # noqa: E402
from daemons.rpc.handler import HandlerContext  # noqa: E402
from tests.fixtures.aleph_stand_in import AlephStandIn, oai_marc  # noqa: E402

RECORDS = 1000


def record(number: int) -> str:
    return oai_marc({
        "015": [{"a": f"cnb{number:09d}"}],
        "020": [{"a": "80-251-0225-4 (váz.) :", "c": "Kč 182,00"}],
        "040": [{"a": "ABA001", "b": "cze"}],
        "041": [{"i1": "1", "a": "cze", "h": "ger"}],
        "100": [{"i1": "1", "a": "May, Karl,", "d": "1842-1912", "4": "aut"}],
        "245": [{"i1": "1", "i2": "0", "a": f"Kniha číslo {number} /", "b": "podtitul", "c": "Karel May"}],
        "250": [{"a": "1. vyd."}],
        "260": [{"a": "Brno :", "b": "Návrat,", "c": "1998"}],
        "300": [{"a": "286 s. :", "b": "il. ;", "c": "22 cm"}],
        "500": [{"a": "Poznámka k vydání"}],
        "650": [{"i2": "7", "a": "romány", "2": "czenas"}, {"i2": "7", "a": "dobrodružství", "2": "czenas"}],
        "700": [{"i1": "1", "a": "Šunda, Vladimír", "4": "trl"}, {"i1": "1", "a": "Pospíchal, Josef", "4": "ill"}],
        "IST": [{"a": "jp2 20150101"}],
    }, fixed={"LDR": "-----nam-a22------a-4500", "001": f"cnb{number:09d}", "FMT": "BK"})


def main() -> None:
    documents = [record(n) for n in range(RECORDS)]

    started = time.perf_counter()
    for number, text in enumerate(documents):
        aleph.to_aleph_record("nkc", PresentedRecord(f"{number:09d}", parse_xml(text)), "NKC01")
    parse_seconds = time.perf_counter() - started
    print(f"parse {RECORDS} OAI-MARC records into AlephRecord: {parse_seconds:.3f} s "
          f"({RECORDS / parse_seconds:.0f} records/s)")

    with AlephStandIn() as stand_in:
        for number, text in enumerate(documents):
            stand_in.add_record(f"{number:09d}", text)
        aleph.configure(HandlerContext("aleph", {"url": stand_in.url, "timeout": 60.0, "present_batch": 100,
                                                 "library": "NKC01"}, ROOT, ROOT))
        started = time.perf_counter()
        result = aleph.react(aleph.SearchRequest(aleph.ISBNQuery("80-251-0225-4")), [].append)
        search_seconds = time.perf_counter() - started
    assert len(result.records) == RECORDS, len(result.records)
    print(f"SearchRequest answering {RECORDS} records via the X-Services stand-in "
          f"(find + {RECORDS // 100} presents + parse): {search_seconds:.3f} s")


if __name__ == "__main__":
    main()
