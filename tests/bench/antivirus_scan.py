"""Benchmark: scan a 10 MB file through the antivirus handler, via a private clamd and via clamscan.

Runs offline with an EICAR-only signature database (an MD5 and a body signature), so the numbers show the
daemon's own cost (base64, streaming, process start) rather than matching against the official databases.
Usage: .venv/bin/python tests/bench/antivirus_scan.py
"""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
import time
from pathlib import Path

from daemons.antivirus import handler as antivirus
from daemons.rpc.handler import HandlerContext
from tests.fixtures.clamav import build_signature_database, eicar_bytes, private_clamd

SIZE = 10 * 1024 * 1024


def timed(message: antivirus.ScanFile, rounds: int) -> tuple[list[float], object]:
    times, answer = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        answer = antivirus.react(message, [].append)
        times.append(time.perf_counter() - start)
    return times, answer


def report(label: str, times: list[float], answer: object) -> None:
    print(f"{label:<34} median {statistics.median(times) * 1000:8.1f} ms   min {min(times) * 1000:8.1f} ms   "
          f"({len(times)} rounds)  result={answer.result}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="antivirus-bench-") as name:
        root = Path(name)
        database = build_signature_database(root / "db", {"Eicar-Test-Signature": eicar_bytes()})
        # A body signature too (any offset), so that clamd searches the whole 10 MB for the EICAR bytes.
        (database / "bench.ndb").write_text(f"Eicar-In-Body:0:*:{eicar_bytes().hex()}\n")
        clean = os.urandom(SIZE)
        infected = clean[: SIZE - len(eicar_bytes())] + eicar_bytes()
        messages = {kind: antivirus.ScanFile(f"{kind}.bin", base64.b64encode(data).decode())
                    for kind, data in (("clean", clean), ("infected", infected))}
        with private_clamd(root / "clamd", database) as socket_path:
            antivirus.configure(HandlerContext("antivirus", {"clamd_socket": str(socket_path)}, root, root))
            for kind, message in messages.items():
                report(f"clamd INSTREAM, 10 MB {kind}", *timed(message, 5))
        antivirus.configure(HandlerContext("antivirus", {"clamd_socket": "", "database_dir": str(database)},
                                           root, root))
        for kind, message in messages.items():
            report(f"clamscan, 10 MB {kind}", *timed(message, 3))
        start = time.perf_counter()
        base64.b64decode(messages["clean"].b64_data)
        print(f"{'(of which base64 decoding)':<34} {(time.perf_counter() - start) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
