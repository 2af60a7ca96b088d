"""Saving and searching 1,000 publications (10 kB each): the handler alone, and through a real worker.

Prints total seconds and per-request milliseconds; asserts nothing.
Usage: python tests/bench/storage_1000.py [--count N] [--kilobytes K]
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.rpc.client import RPCClient  # noqa: E402
from daemons.rpc.handler import HandlerContext  # noqa: E402
from daemons.rpc.wire import StructureRegistry  # noqa: E402
from daemons.storage import handler as storage  # noqa: E402
from daemons.testing import BROKER, running_worker, throwaway_vhost, write_config  # noqa: E402

EMPTY = storage.Publication(*[None] * len(storage.Publication._fields))


def publications(count: int, kilobytes: int) -> list[storage.Publication]:
    return [EMPTY._replace(title=f"Kniha číslo {n}", author=f"Autor {n % 50}", pub_year=str(1900 + n % 120),
                           isbn=f"978-80-{n:06d}", uuid=f"uuid-{n}", filename=f"kniha-{n}.epub",
                           is_public=n % 2 == 0, b64_data=base64.b64encode(os.urandom(kilobytes * 1024)).decode())
            for n in range(count)]


def run(label: str, call: Callable[[Any], Any], messages: Iterable[Any]) -> None:
    messages = list(messages)
    started = time.perf_counter()
    for message in messages:
        call(message)
    elapsed = time.perf_counter() - started
    print(f"{label:<52} {elapsed:7.2f} s  {1000 * elapsed / len(messages):7.2f} ms/request  ({len(messages)} requests)")


def scenario(prefix: str, call: Callable[[Any], Any], records: list[storage.Publication]) -> None:
    run(f"{prefix}: save", call, (storage.SaveRequest(r) for r in records))
    run(f"{prefix}: search by uuid, full", call, (storage.SearchRequest(EMPTY._replace(uuid=r.uuid)) for r in records))
    run(f"{prefix}: search by uuid, light", call,
        (storage.SearchRequest(EMPTY._replace(uuid=r.uuid), True) for r in records))
    run(f"{prefix}: search author AND pub_year, light", call,
        (storage.SearchRequest(EMPTY._replace(author=f"Autor {n % 50}", pub_year=str(1900 + n % 120)), True)
         for n in range(len(records))))
    run(f"{prefix}: search everything, light (x10)", call, (storage.SearchRequest(EMPTY, True) for _ in range(10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--kilobytes", type=int, default=10)
    args = parser.parse_args()
    records = publications(args.count, args.kilobytes)
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        storage.configure(HandlerContext("storage", {}, base / "direct", base))
        scenario("handler", lambda message: storage.react(message, [].append), records)
        storage._storage.close()
        with throwaway_vhost("edeposit-bench") as vhost:
            config = write_config(base / "amqpd.ini", vhost, base / "state", {"storage": {}})
            registry = StructureRegistry.from_modules([storage])
            with running_worker(config, "storage", base / "worker.log"), \
                    RPCClient(BROKER, vhost, "export", registry=registry) as rpc:
                scenario("worker over AMQP", lambda message: rpc.call(message, timeout=60), records)


if __name__ == "__main__":
    main()
