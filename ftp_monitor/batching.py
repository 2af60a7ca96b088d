"""pika I/O services that hand the socket everything written in one pass of the I/O loop as one buffer.

Why: pika marshals a published message into three frames and its transport sends each with a
``send()`` of its own; at tens of thousands of messages a second those system calls (and the tiny TCP
segments they make) cost more than building the frames. This module plugs into pika's documented
adapter interfaces (``pika.adapters.utils.nbio_interface``): ``SelectConnection(custom_ioloop=...)``
accepts any ``AbstractIOServices``; ours is pika's own selector adapter whose
``create_streaming_connection()`` puts a ``BatchingTransport`` between the connection (the stream
protocol) and pika's transport. The transport collects the frames written during one loop pass and
writes them on with one ``write()`` at the end of the pass (a loop callback), so the bytes and their
order on the wire stay the same. No pika method, public or private, is replaced.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

from pika.adapters.select_connection import IOLoop
from pika.adapters.utils import nbio_interface
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter


class BatchingTransport(nbio_interface.AbstractStreamTransport):
    """Holds writes until the loop runs its callbacks, then passes them on as one buffer."""

    def __init__(self, inner: nbio_interface.AbstractStreamTransport, schedule: Callable[[Callable[[], None]], Any]):
        self._inner = inner
        self._schedule = schedule
        self._held: list[bytes] = []
        self._held_bytes = 0
        self.writes = 0  # buffers handed to pika's transport: one per loop pass that wrote anything

    def write(self, data: bytes) -> None:
        if not self._held:
            self._schedule(self.flush)
        self._held.append(data)
        self._held_bytes += len(data)

    def flush(self) -> None:
        held, self._held, self._held_bytes = self._held, [], 0
        if held:
            self.writes += 1
            self._inner.write(held[0] if len(held) == 1 else b"".join(held))

    def abort(self) -> None:
        self._held, self._held_bytes = [], 0
        self._inner.abort()

    def get_protocol(self) -> nbio_interface.AbstractStreamProtocol:
        return self._inner.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._held_bytes + self._inner.get_write_buffer_size()


class _BatchingProtocol(nbio_interface.AbstractStreamProtocol):
    """Passes every event on to pika's protocol; only the transport it is introduced to is ours."""

    def __init__(self, inner: nbio_interface.AbstractStreamProtocol, services: BatchingIOServices) -> None:
        self.inner = inner
        self._services = services

    def connection_made(self, transport: nbio_interface.AbstractStreamTransport) -> None:
        batching = BatchingTransport(transport, self._services.add_callback)
        self._services.transport = batching
        self.inner.connection_made(batching)

    def connection_lost(self, error: BaseException | None) -> None:
        self.inner.connection_lost(error)

    def eof_received(self) -> bool:
        return bool(self.inner.eof_received())

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)


class BatchingIOServices(SelectorIOServicesAdapter):
    """pika's selector I/O services on a fresh IOLoop, with batched writes; one per connection."""

    def __init__(self) -> None:
        super().__init__(IOLoop())
        self.transport: BatchingTransport | None = None

    def add_callback(self, callback: Callable[[], Any]) -> None:
        """Run `callback` on the loop's thread at its next pass (called from that thread)."""
        self.get_native_ioloop().add_callback_threadsafe(callback)

    def create_streaming_connection(self, protocol_factory: Callable[[], nbio_interface.AbstractStreamProtocol],
                                    sock: socket.socket, on_done: Callable[..., None],
                                    ssl_context: ssl.SSLContext | None = None,
                                    server_hostname: str | None = None) -> Any:
        made: list[_BatchingProtocol] = []

        def protocol() -> _BatchingProtocol:
            made.append(_BatchingProtocol(protocol_factory(), self))
            return made[-1]

        def done(result: Any) -> None:
            # The connection workflow takes the protocol it gets here for the connection: hand it pika's own.
            if isinstance(result, tuple) and made:
                result = (self.transport, made[-1].inner)
            on_done(result)

        return super().create_streaming_connection(protocol, sock, done, ssl_context=ssl_context,
                                                   server_hostname=server_hostname)
