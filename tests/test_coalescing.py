"""The coalescing connection still takes effect with the installed pika, and its messages arrive whole."""

from __future__ import annotations

import pika

from daemons.rpc.coalescing import CoalescingSelectConnection
from daemons.testing import BROKER, bound_queue, read_messages


def publish_in_one_batch(vhost: str, bodies: list[bytes]) -> list[int]:
    """Publish on a CoalescingSelectConnection; return the size of every write handed to the socket."""
    writes: list[int] = []

    def on_open(connection: CoalescingSelectConnection) -> None:
        emit = connection._adapter_emit_data
        connection._adapter_emit_data = lambda data: (writes.append(len(data)), emit(data))[1]
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel: pika.channel.Channel) -> None:
        with channel.connection.batch():
            for body in bodies:
                channel.basic_publish("amq.topic", "coalesced", body)
        channel.connection.ioloop.call_later(0.2, channel.connection.close)

    connection = CoalescingSelectConnection(
        BROKER.parameters(vhost), on_open_callback=on_open,
        on_close_callback=lambda conn, reason: conn.ioloop.stop(),
    )
    connection.ioloop.start()
    return writes


def test_a_batch_of_messages_goes_to_the_socket_in_one_write_and_arrives_whole(vhost: str) -> None:
    bodies = [b"first", b"second" * 1000, b"third"]
    with bound_queue(vhost, "amq.topic", "coalesced") as queue:
        writes = publish_in_one_batch(vhost, bodies)
        received = read_messages(vhost, queue, 3)
    assert [body for _, _, body in received] == bodies
    batch_writes = [size for size in writes if size > sum(map(len, bodies))]
    assert len(batch_writes) == 1, f"expected one write for the batch, got sizes {writes}"
