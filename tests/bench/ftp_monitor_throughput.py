"""ftp_monitor speed: records per second parsed and published from a large log, and the latency from a
record written to its event arriving at a consumer.

Baseline, measured in the same run: bare pika (SelectConnection, one channel in confirm mode) publishing
the very messages the monitor publishes (same bodies, properties and routing keys, built beforehand),
5000 per loop callback with at most 20,000 unconfirmed; the monitor's rate is printed as a ratio of it.

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


def bare_pika(vhost: str, messages: list[tuple[str, bytes, str]]) -> float:
    """Messages per second bare pika publishes and gets confirmed: the baseline."""
    import pika

    state = {"sent": 0, "acked": 0, "started": 0.0, "ended": 0.0}
    total = len(messages)
    channel_box: list = []

    def pump() -> None:
        channel = channel_box[0]
        now = int(time.time())
        while state["sent"] < total and state["sent"] - state["acked"] < 20_000:
            first = int(state["sent"])
            for key, body, message_id in messages[first:first + 5000]:
                channel.basic_publish("ftp", key, body, pika.BasicProperties(
                    content_type="application/json", delivery_mode=2, message_id=message_id, timestamp=now,
                    type="event"))
            state["sent"] = min(first + 5000, total)

    def on_confirm(frame) -> None:
        state["acked"] = frame.method.delivery_tag
        if state["acked"] >= total:
            state["ended"] = time.perf_counter()
            connection.close()
        else:
            pump()

    def on_confirm_mode(_frame) -> None:
        state["started"] = time.perf_counter()
        pump()

    def on_channel(channel) -> None:
        channel_box.append(channel)
        channel.exchange_declare("ftp", "topic", durable=True,
                                 callback=lambda _f: channel.confirm_delivery(on_confirm, callback=on_confirm_mode))

    connection = pika.SelectConnection(BROKER.parameters(vhost, name="bench bare pika"),
                                       on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
                                       on_close_callback=lambda c, _r: c.ioloop.stop())
    connection.ioloop.start()
    rate = total / (state["ended"] - state["started"])
    print(f"  baseline, bare pika: {total:,} messages confirmed in {state['ended'] - state['started']:.1f} s = "
          f"{rate:,.0f} messages/s")
    return rate


def same_messages(lines: int) -> list[tuple[str, bytes, str]]:
    """The events the monitor publishes for the benchmark's log, built without timing."""
    from daemons.rpc.wire import serialize
    from ftp_monitor.structures import FileEvent

    return [("event.uploaded", serialize(FileEvent("uploaded", "alice", f"/home/ftp/alice/{n:09d}-kniha.pdf", None,
                                                   123456, 4242, "127.0.0.1", "ftp", "2026-11-27T10:00:00+0100",
                                                   226)), f"{n:032x}") for n in range(lines)]


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
        baseline = bare_pika(vhost, same_messages(args.lines))
        rate = throughput(vhost, tmp, args.lines, events=True)
        print(f"  events on / bare pika: {rate / baseline:.2f}")
        throughput(vhost, tmp, args.lines // 4, events=False)
        delays = latency(vhost, tmp, args.latency_records)
        quantiles = statistics.quantiles(delays, n=100)
        print(f"latency, record written -> event received by a consumer ({len(delays)} records): "
              f"p50 {statistics.median(delays):.1f} ms, p99 {quantiles[98]:.1f} ms, max {max(delays):.1f} ms")


if __name__ == "__main__":
    main()
