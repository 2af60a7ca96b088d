"""`host:port` as `[orchestrator] metrics_listen` spells it, checked when the config is loaded."""

from __future__ import annotations


def parse_listen(value: str) -> tuple[str, int] | None:
    """("127.0.0.1", 9464) for "127.0.0.1:9464", ("::1", 9464) for "[::1]:9464"; None for "" (off).

    Raises ValueError saying what is wrong.
    """
    text = value.strip()
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError("expected host:port, e.g. 127.0.0.1:9464, or nothing to turn metrics off")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("write an IPv6 address in brackets, e.g. [::1]:9464")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port {port!r}: expected a number from 1 to 65535")
    return host, int(port)
