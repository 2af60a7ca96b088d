"""How long marcxml2mods takes to convert 1,000 MARC records to MODS.

Two numbers: 1,000 separate ConversionRequests (one MARC21 slim record each), and one request carrying a
collection of 1,000 records. Run: .venv/bin/python tests/bench/marc_to_mods.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from daemons.common.marc import MARC_NS, from_oai_marc, to_marcxml  # noqa: E402
from daemons.common.safe_xml import parse_xml  # noqa: E402
from daemons.marcxml2mods import handler as marcxml2mods  # noqa: E402
from daemons.rpc.handler import HandlerContext  # noqa: E402
from tests.bench.aleph_parse import record  # noqa: E402

RECORDS = 1000


def main() -> None:
    marc_records = [to_marcxml(from_oai_marc(parse_xml(record(n)))) for n in range(RECORDS)]
    singles = [etree.tostring(r, encoding="unicode") for r in marc_records]
    collection = etree.Element(f"{{{MARC_NS}}}collection", nsmap={None: MARC_NS})
    collection.extend(marc_records)
    whole = etree.tostring(collection, encoding="unicode")
    marcxml2mods.configure(HandlerContext("marcxml2mods", {"xslt": None}, ROOT, ROOT))

    started = time.perf_counter()
    for number, text in enumerate(singles):
        marcxml2mods.react(marcxml2mods.ConversionRequest(text, f"uuid-{number}", "http://e/1"), [].append)
    single_seconds = time.perf_counter() - started
    print(f"convert {RECORDS} MARC records to MODS, one request each: {single_seconds:.3f} s "
          f"({RECORDS / single_seconds:.0f} records/s)")

    started = time.perf_counter()
    response = marcxml2mods.react(marcxml2mods.ConversionRequest(whole, "uuid", "http://e/1"), [].append)
    collection_seconds = time.perf_counter() - started
    assert len(response.mods_files) == RECORDS
    print(f"convert one collection of {RECORDS} MARC records to MODS: {collection_seconds:.3f} s")


if __name__ == "__main__":
    main()
