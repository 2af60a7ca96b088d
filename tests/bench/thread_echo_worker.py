"""A second baseline: the bare pika echo worker, built the way ours is (one connection owner, one handler thread).

The main thread runs a SelectConnection and alone touches it; each delivery goes to a handler thread
through a queue, which hands the reply back with `add_callback_threadsafe`; the request is acked when
the broker confirms the reply, prefetch 1. Nothing else: what this costs over `echo_worker.py` is the
price of the thread model itself, which any worker that keeps heartbeats flowing during a long
handler pays.
Usage: thread_echo_worker.py VHOST EXCHANGE INPUT_QUEUE OUTPUT_KEY
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
from typing import Any

import pika
from pika.adapters.select_connection import IOLoop, SelectConnection


def main() -> None:
    vhost, exchange, input_queue, output_key = sys.argv[1:5]
    ioloop = IOLoop()
    jobs: queue.SimpleQueue[tuple[int, pika.BasicProperties, bytes]] = queue.SimpleQueue()
    unconfirmed: dict[int, int] = {}  # publish sequence number -> delivery tag to ack
    state: dict[str, Any] = {"published": 0}

    def publish(delivery_tag: int, properties: pika.BasicProperties, body: bytes) -> None:  # owner thread
        state["channel"].basic_publish(exchange, output_key, body, properties, mandatory=True)
        state["published"] += 1
        unconfirmed[state["published"]] = delivery_tag

    def on_confirm(frame: Any) -> None:
        tags = [n for n in unconfirmed if n <= frame.method.delivery_tag] if frame.method.multiple \
            else [frame.method.delivery_tag]
        for number in tags:
            state["channel"].basic_ack(unconfirmed.pop(number))

    def handler() -> None:
        while True:
            delivery_tag, properties, body = jobs.get()
            reply = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                         headers={"UUID": (properties.headers or {}).get("UUID", "")})
            ioloop.add_callback_threadsafe(lambda t=delivery_tag, r=reply, b=body: publish(t, r, b))

    def on_message(channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        jobs.put((method.delivery_tag, properties, body))

    def on_channel(channel: Any) -> None:
        state["channel"] = channel
        channel.confirm_delivery(ack_nack_callback=on_confirm, callback=lambda _frame: channel.basic_qos(
            prefetch_count=1, callback=lambda _ok: (channel.basic_consume(input_queue, on_message),
                                                    print("consuming", flush=True))))

    params = pika.ConnectionParameters("127.0.0.1", 5672, virtual_host=vhost)
    SelectConnection(params, on_open_callback=lambda connection: connection.channel(on_open_callback=on_channel),
                     custom_ioloop=ioloop)
    threading.Thread(target=handler, name="handler", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: ioloop.add_callback_threadsafe(ioloop.stop))
    ioloop.start()


if __name__ == "__main__":
    main()
