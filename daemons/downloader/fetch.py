"""Streaming HTTP(S) fetches for the downloader: address checks on every hop, size and time limits.

Built on http.client because each connection must go to an address the AddressPolicy checked after
resolving the name, including every redirect target; no proxy settings from the environment are used.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

from daemons.downloader.guard import AddressPolicy, URLRefused, check_url, connect_checked

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 256 * 1024
USER_AGENT = "edeposit-amqpd downloader"


class DownloadError(RuntimeError):
    """The server answered, but not with the file (HTTP error status, too big, too slow, cut short)."""


@dataclass(frozen=True)
class FetchLimits:
    """How far one fetch may go; `timeout` bounds each connect and read, `max_seconds` the whole fetch."""

    policy: AddressPolicy
    max_bytes: int
    timeout: float
    max_seconds: float
    max_redirects: int = 10
    ssl_context: ssl.SSLContext | None = None


class GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, limits: FetchLimits) -> None:
        super().__init__(host, port, timeout=limits.timeout)
        self.limits = limits

    def connect(self) -> None:
        self.sock = connect_checked(self.host, self.port, self.limits.timeout, self.limits.policy)


class GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, limits: FetchLimits) -> None:
        context = limits.ssl_context or ssl.create_default_context()
        super().__init__(host, port, timeout=limits.timeout, context=context)
        self.limits = limits
        self.tls = context

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self.limits.timeout, self.limits.policy)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except (ssl.SSLError, ssl.CertificateError) as exc:
            sock.close()
            raise ConnectionError(f"TLS handshake with {self.host} failed: {exc}") from None


def open_connection(url: str, limits: FetchLimits) -> tuple[http.client.HTTPConnection, str]:
    """A connection for the URL's scheme and host, and the request target (path and query)."""
    parts = check_url(url)
    kind = GuardedHTTPSConnection if parts.scheme.lower() == "https" else GuardedHTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return kind(parts.hostname or "", parts.port, limits), target


@dataclass
class Fetched:
    """The final response after redirects, with the URL it came from and its announced body size."""

    url: str
    response: http.client.HTTPResponse
    content_length: int | None  # None when chunked or delimited by closing the connection

    def headers(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, value in self.response.getheaders():
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        return merged


def send(url: str, limits: FetchLimits, method: str) -> tuple[http.client.HTTPConnection, Fetched]:
    """Send the request, following redirects (each target checked again); the open final response."""
    current = url
    for _ in range(limits.max_redirects + 1):
        connection, target = open_connection(current, limits)
        try:
            connection.request(method, target, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
            response = connection.getresponse()
        except TimeoutError:
            connection.close()
            raise DownloadError(f"{current}: no answer within timeout = {limits.timeout} s") from None
        except (ConnectionError, URLRefused):
            connection.close()
            raise
        except (http.client.HTTPException, OSError) as exc:
            connection.close()
            raise DownloadError(f"{current}: {type(exc).__name__}: {exc}") from None
        location = response.getheader("Location")
        if response.status in REDIRECT_STATUSES and location:
            connection.close()
            current = urljoin(current, location.strip())
            check_url(current)
            continue
        length = None if response.chunked else response.length
        return connection, Fetched(current, response, length)
    raise DownloadError(f"{url}: more than max_redirects = {limits.max_redirects} redirects")


@contextmanager
def fetch(url: str, limits: FetchLimits, method: str = "GET") -> Iterator[Fetched]:
    """The final response of `url` (after redirects); the connection is closed afterwards."""
    connection, fetched = send(url, limits, method)
    try:
        yield fetched
    finally:
        connection.close()


def raise_for_status(fetched: Fetched) -> None:
    status = fetched.response.status
    if not 200 <= status < 300:
        raise DownloadError(f"{fetched.url}: the server answered HTTP {status} {fetched.response.reason}")


def read_body(fetched: Fetched, limits: FetchLimits, on_chunk: Callable[[int], None] | None = None) -> bytes:
    """The whole body, refused as soon as it passes max_bytes or the fetch outlives max_seconds.

    `on_chunk(downloaded)` is called after each chunk with the byte count so far.
    """
    length = fetched.content_length
    if length is not None and length > limits.max_bytes:
        raise DownloadError(f"{fetched.url}: the file has {length} bytes, more than max_bytes = {limits.max_bytes}; "
                            f"raise max_bytes in the downloader's [[[options]]] to allow it")
    deadline = time.monotonic() + limits.max_seconds
    body = bytearray()
    while True:
        try:
            chunk = fetched.response.read1(CHUNK_BYTES)
        except TimeoutError:
            raise DownloadError(f"{fetched.url}: the server sent nothing for timeout = {limits.timeout} s") from None
        except http.client.IncompleteRead as exc:
            raise DownloadError(f"{fetched.url}: the connection closed after {len(body) + len(exc.partial)} "
                                f"of {length} bytes") from None
        except (http.client.HTTPException, OSError) as exc:
            raise DownloadError(f"{fetched.url}: reading failed after {len(body)} bytes: {exc}") from None
        if not chunk:
            break
        body += chunk
        if len(body) > limits.max_bytes:
            raise DownloadError(f"{fetched.url}: the file is bigger than max_bytes = {limits.max_bytes}; "
                                f"raise max_bytes in the downloader's [[[options]]] to allow it")
        if time.monotonic() > deadline:
            raise DownloadError(f"{fetched.url}: the download took longer than max_seconds = {limits.max_seconds} s")
        if on_chunk is not None:
            on_chunk(len(body))
    if length is not None and len(body) != length:
        raise DownloadError(f"{fetched.url}: the connection closed after {len(body)} of {length} bytes")
    return bytes(body)

