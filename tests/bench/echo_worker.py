"""The baseline: a bare pika echo worker with the same guarantees as ours.

Manual ack after the persistent reply was confirmed by the broker, prefetch 1.
Usage: echo_worker.py VHOST EXCHANGE INPUT_QUEUE OUTPUT_KEY [PORT]
"""

from __future__ import annotations

import signal
import sys

import pika


def main() -> None:
    vhost, exchange, queue, output_key = sys.argv[1:5]
    port = int(sys.argv[5]) if len(sys.argv) > 5 else 5672
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, virtual_host=vhost))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_qos(prefetch_count=1)

    def on_message(ch, method, properties, body) -> None:  # noqa: ANN001
        reply = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                     headers={"UUID": (properties.headers or {}).get("UUID", "")})
        ch.basic_publish(exchange, output_key, body, reply)
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue, on_message)
    signal.signal(signal.SIGTERM, lambda *_: channel.stop_consuming())
    print("consuming", flush=True)
    channel.start_consuming()
    connection.close()


if __name__ == "__main__":
    main()
