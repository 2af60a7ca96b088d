"""ftp_monitor speed: records per second parsed and published from a large log, and the latency from a
record written to its event arriving at a consumer.

    .venv/bin/python tests/bench/ftp_monitor_throughput.py [--lines 1000000] [--latency-records 300]

Needs the broker at 127.0.0.1:5672; works in a throwaway vhost and a temp dir, removed afterwards.
Goals: >= 50,000 records/s; latency p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.testing import BROKER, throwaway_vhost, wait_for  # noqa: E402
from ftp_monitor.monitor import Monitor  # noqa: E402
from ftp_monitor.options import load_options  # noqa: E402
from tests.fixtures.ftp_log import QueueReader, SessionWriter, edeposit_record, monitor_settings  # noqa: E402


@contextlib.contextmanager
def running(settings) -> Iterator[Monitor]:
    monitor = Monitor(settings, BROKER, load_options(settings))
    thread = threading.Thread(target=monitor.run, daemon=True)
    thread.start()
    try:
        if not monitor.publisher.wait_connected(20):
            raise SystemExit("the monitor could not connect to the broker")
        yield monitor
    finally:
        monitor.stop()
        thread.join(30)


def write_log(path: Path, lines: int) -> None:
    template = edeposit_record("STOR", "/home/ftp/alice/{:09d}-kniha.pdf", size=123456).decode()
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, lines, 10_000):
            handle.write("".join(template.format(n) + "\n" for n in range(start, min(start + 10_000, lines))))


def throughput(vhost: str, tmp: Path, lines: int, events: bool) -> float:
    log_file = tmp / f"throughput-{events}.log"
    write_log(log_file, lines)
    settings = monitor_settings(vhost, tmp / f"state-{events}", log_file, tmp, tmp / "passwd",
                                events=str(events).lower(), start_at="beginning", batch_records=5000)
    started = time.perf_counter()
    with running(settings) as monitor:
        wait_for(lambda: monitor.counts["records"] >= lines and monitor.tailer.current is not None
                 and monitor.tailer.current.committed >= log_file.stat().st_size, timeout=600, interval=0.05,
                 what="every record to be confirmed")
        elapsed = time.perf_counter() - started
        published = monitor.counts["published"]
    log_file.unlink()
    rate = lines / elapsed
    print(f"  events {'on ' if events else 'off'}: {lines:,} records, {published:,} messages confirmed in "
          f"{elapsed:.1f} s = {rate:,.0f} records/s")
    return rate


def latency(vhost: str, tmp: Path, records: int) -> list[float]:
    log_file = tmp / "latency.log"
    settings = monitor_settings(vhost, tmp / "state-latency", log_file, tmp, tmp / "passwd", events="true",
                                start_at="beginning", event_queue="bench-latency")
    reader = QueueReader(BROKER, vhost, "ftp", "bench-latency", ["event.#"])
    written: dict[str, float] = {}
    delays: list[float] = []
    with running(settings), SessionWriter(log_file) as session:
        for n in range(records):
            path = f"/home/ftp/alice/latency-{n}.pdf"
            written[path] = time.perf_counter()
            session.write(edeposit_record("STOR", path))
            deadline = time.monotonic() + 5
            while len(reader.drain()) <= n and time.monotonic() < deadline:
                reader.connection.process_data_events(time_limit=0.001)
            arrived = time.perf_counter()
            if len(reader.received) > n:
                delays.append((arrived - written[path]) * 1000)
            time.sleep(0.005)
    reader.close()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--latency-records", type=int, default=300)
    args = parser.parse_args()
    print(f"ftp_monitor benchmark on {os.cpu_count()} cores")
    with throwaway_vhost("edeposit-bench") as vhost, tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        print("throughput (parse, publish with batched confirms, save offsets):")
        throughput(vhost, tmp, args.lines, events=True)
        throughput(vhost, tmp, args.lines // 4, events=False)
        delays = latency(vhost, tmp, args.latency_records)
        quantiles = statistics.quantiles(delays, n=100)
        print(f"latency, record written -> event received by a consumer ({len(delays)} records): "
              f"p50 {statistics.median(delays):.1f} ms, p99 {quantiles[98]:.1f} ms, max {max(delays):.1f} ms")


if __name__ == "__main__":
    main()
