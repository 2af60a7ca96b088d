"""Talks to a running clamd over its unix socket: PING, INSTREAM scans and RELOAD.

The INSTREAM command streams the bytes to clamd, so nothing is written to a file that others could read.
Protocol: https://docs.clamav.net/manual/Usage/Scanning.html#clamd (null-terminated "z" commands).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

CHUNK_BYTES = 64 * 1024


class ClamdUnavailable(ConnectionError):
    """No clamd answers on the socket (not running, wrong path, no permission)."""


class ClamdScanError(RuntimeError):
    """clamd answered, but with an error (e.g. the stream exceeded its StreamMaxLength)."""


@dataclass(frozen=True)
class Verdict:
    """One scan's outcome: `signature` is None for a clean stream."""

    signature: str | None

    @property
    def infected(self) -> bool:
        return self.signature is not None


class ClamdClient:
    """One short connection per command, as clamd closes the socket after each "z" command."""

    def __init__(self, socket_path: str, timeout: float = 300.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            raise ClamdUnavailable(f"clamd does not answer on {self.socket_path}: {exc.strerror or exc}") from exc
        return sock

    @staticmethod
    def _read_reply(sock: socket.socket) -> str:
        chunks = []
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\0"):
                break
        return b"".join(chunks).rstrip(b"\0").decode("utf-8", "replace").strip()

    def command(self, name: str) -> str:
        """Send a simple command (PING, VERSION, RELOAD) and return clamd's reply."""
        with self._connect() as sock:
            sock.sendall(b"z" + name.encode("ascii") + b"\0")
            return self._read_reply(sock)

    def ping(self) -> bool:
        try:
            return self.command("PING") == "PONG"
        except (ClamdUnavailable, OSError):
            return False

    @staticmethod
    def _send_stream(sock: socket.socket, data: bytes) -> None:
        try:
            sock.sendall(b"zINSTREAM\0")
            view = memoryview(data)
            for start in range(0, len(view), CHUNK_BYTES):
                chunk = view[start:start + CHUNK_BYTES]
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
        except (BrokenPipeError, ConnectionResetError):
            pass  # clamd stopped reading (size limit); its reply says why

    def scan_bytes(self, data: bytes) -> Verdict:
        """Scan `data` with INSTREAM.

        Note: clamd closes the connection as soon as the stream exceeds its StreamMaxLength; the reply
        that explains why is still waiting to be read, so a broken pipe while sending is not the end.
        """
        with self._connect() as sock:
            try:
                self._send_stream(sock, data)
                reply = self._read_reply(sock)
            except TimeoutError as exc:
                raise ClamdScanError(f"clamd on {self.socket_path} gave no verdict within {self.timeout:g} s; "
                                     f"raise the antivirus daemon's `timeout` option") from exc
            except ConnectionResetError as exc:
                raise ClamdScanError(f"clamd on {self.socket_path} closed the connection during the scan") from exc
        return parse_instream_reply(reply, self.socket_path)


def parse_instream_reply(reply: str, where: str) -> Verdict:
    """"stream: OK" / "stream: Eicar-Signature FOUND" / "... ERROR" into a Verdict or a ClamdScanError."""
    if reply.endswith("ERROR") or not reply:
        hint = ""
        if "size limit" in reply:
            hint = " (raise StreamMaxLength in clamd.conf to scan bigger files)"
        raise ClamdScanError(f"clamd on {where} could not scan the file: {reply or 'no reply'}{hint}")
    _, _, status = reply.partition(": ")
    if status == "OK":
        return Verdict(None)
    if status.endswith(" FOUND"):
        return Verdict(status[: -len(" FOUND")])
    raise ClamdScanError(f"clamd on {where} gave an answer this daemon does not understand: {reply!r}")
