"""What the worker's metric hooks cost per request, metrics on (multiprocess files) against off, in-process.

The round-trip benchmark (rpc_roundtrip.py --metrics) is the real measure, but on a shared machine its
noise is larger than the cost; this one isolates the hooks. Prints microseconds per request; asserts
nothing. Usage: python tests/bench/metrics_hooks.py [--requests N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def per_request(requests: int) -> float:
    from daemons.rpc import metrics

    method = types.SimpleNamespace(redelivered=False)
    properties = types.SimpleNamespace(headers={"UUID": "bench"})
    started = time.perf_counter()
    for _ in range(requests):
        token = metrics.begin(method, properties)
        metrics.handler_seconds(0.001)
        metrics.answered()
        metrics.end(token)
    return (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        from daemons.rpc import metrics

        metrics.setup("bench")
        on = per_request(args.requests)
        metrics._sink = None  # as a worker without the variable has it
        off = per_request(args.requests)
    print(f"hooks per request: metrics on {on * 1e6:.1f} us, off {off * 1e6:.2f} us")
    for rate in (500, 1000, 2000):
        print(f"  at {rate} round trips/s the hooks take {on * rate * 100:.2f} % of the time")


if __name__ == "__main__":
    main()
