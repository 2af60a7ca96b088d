"""How long the harvester takes for a 10,000-entry feed: OPDS over local HTTP, ONIX from a file.

Run: .venv/bin/python tests/bench/harvester_feed.py   (prints seconds; nothing is asserted)
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from daemons.harvester import handler as harvester  # noqa: E402
from daemons.harvester.feeds import parse_feeds_option  # noqa: E402
from daemons.harvester.run import Harvest, harvest_once  # noqa: E402
from daemons.harvester.sent import SentTitles  # noqa: E402
from daemons.rpc.client import RPCClient  # noqa: E402
from daemons.rpc.wire import StructureRegistry, serialize  # noqa: E402
from daemons.testing import BROKER, running_worker, throwaway_vhost, write_config  # noqa: E402
from tests.fixtures.feeds import onix_message, opds_feed, sample_titles, serve_directory  # noqa: E402

ENTRIES = 10_000


def measure(label: str, feed: str, work: Path) -> None:
    harvest = Harvest(parse_feeds_option([feed]), SentTitles(work / f"{label}.sqlite"), work / f"{label}.lock",
                      timeout=60, log=logging.getLogger("bench"))
    started = time.perf_counter()
    first = harvest_once(harvest)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    body = serialize(first)
    serialize_s = time.perf_counter() - started
    started = time.perf_counter()
    second = harvest_once(harvest)
    second_s = time.perf_counter() - started
    print(f"{label}: {ENTRIES} entries, first harvest (all new) {first_s:.2f} s "
          f"({len(first.publications)} titles, message {len(body) / 1e6:.1f} MB, serialize {serialize_s:.2f} s); "
          f"second harvest (all already sent) {second_s:.2f} s ({len(second.publications)} new)")


def measure_rpc(feed: str, work: Path) -> None:
    """HarvestRequest -> Publications through a real worker and RabbitMQ (a throwaway vhost)."""
    with throwaway_vhost("edeposit-bench") as vhost:
        config = write_config(work / "amqpd.ini", vhost, work / "state",
                              {"harvester": {"options": {"feeds": feed, "interval": 0}}})
        (work / "state").mkdir(exist_ok=True)
        with running_worker(config, "harvester", work / "worker.log"), \
                RPCClient(BROKER, vhost, "harvester", registry=StructureRegistry.from_modules([harvester])) as client:
            started = time.perf_counter()
            answer = client.call(harvester.HarvestRequest(), timeout=110)
            print(f"rpc via worker: HarvestRequest answered with {len(answer.publications)} titles in "
                  f"{time.perf_counter() - started:.2f} s")


def main() -> None:
    titles = sample_titles(ENTRIES)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "catalog.xml").write_bytes(opds_feed(titles))
        (work / "titles.onix").write_bytes(onix_message(titles))
        print(f"feed sizes: OPDS {(work / 'catalog.xml').stat().st_size / 1e6:.1f} MB, "
              f"ONIX {(work / 'titles.onix').stat().st_size / 1e6:.1f} MB")
        with serve_directory(work) as base_url:
            measure("opds-http", f"opds:{base_url}catalog.xml", work)
            measure_rpc(f"opds:{base_url}catalog.xml", work)
        measure("onix-file", f"onix:{work / 'titles.onix'}", work)


if __name__ == "__main__":
    main()
