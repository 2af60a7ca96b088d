"""Downloading 50 MB from a local HTTP server: the handler alone, and through a real worker over AMQP.

Prints seconds and MB/s per run and the median; asserts nothing.
Usage: python tests/bench/downloader_50mb.py [--rounds N] [--megabytes M]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.downloader import handler as downloader  # noqa: E402
from daemons.rpc.client import RPCClient  # noqa: E402
from daemons.rpc.handler import HandlerContext  # noqa: E402
from daemons.rpc.wire import StructureRegistry  # noqa: E402
from daemons.testing import BROKER, running_worker, throwaway_vhost, write_config  # noqa: E402
from tests.test_downloader import LocalServer, send_bytes  # noqa: E402


def timed(action) -> float:  # noqa: ANN001
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def report(label: str, seconds: list[float], megabytes: float) -> None:
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    median = statistics.median(seconds)
    print(f"{label:<42} median {median:6.2f} s  {megabytes / median:7.1f} MB/s   (runs: {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args()
    size = args.megabytes * 1024 * 1024
    server = LocalServer()
    server.routes["/file.bin"] = send_bytes(b"\x5a" * size)
    server.routes["/stream.bin"] = send_bytes(b"\x5a" * size, content_length=False)
    server.thread.start()
    options = {"allow_private_networks": "true", "max_bytes": str(size + 1)}
    try:
        with tempfile.TemporaryDirectory() as temp:
            downloader.configure(HandlerContext("downloader", options, Path(temp), Path(temp)))
            print(f"downloading {args.megabytes} MB from 127.0.0.1, {args.rounds} rounds")
            for label, message in (
                ("handler: Download", downloader.Download(server.url("/file.bin"))),
                ("handler: ProgressDownload (10 steps)", downloader.ProgressDownload(server.url("/file.bin"), 10)),
                ("handler: Download, no Content-Length", downloader.Download(server.url("/stream.bin"))),
            ):
                report(label, [timed(lambda m=message: downloader.react(m, [].append)) for _ in range(args.rounds)],
                       args.megabytes)
            with throwaway_vhost("edeposit-bench") as vhost:
                config = write_config(Path(temp) / "amqpd.ini", vhost, Path(temp) / "state",
                                      {"downloader": {"options": options}})
                registry = StructureRegistry.from_modules([downloader])
                with running_worker(config, "downloader", Path(temp) / "worker.log"), \
                        RPCClient(BROKER, vhost, "downloader", registry=registry) as rpc:
                    message = downloader.Download(server.url("/file.bin"))
                    report("worker over AMQP: Download (base64 answer)",
                           [timed(lambda: rpc.call(message, timeout=120)) for _ in range(args.rounds)], args.megabytes)
    finally:
        server.close()


if __name__ == "__main__":
    main()
