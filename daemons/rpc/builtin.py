"""The built-in daemons: their AMQP names (equal to the old edeposit.amqp settings) and handlers.

Each entry is a complete `DaemonSettings`; a config section overrides any of its keys. Keys a section
does not set keep the dataclass defaults, so each default is written once, in `DaemonSettings`.
"""

from __future__ import annotations

from typing import Any

from daemons.rpc.settings import DaemonSettings


def _rpc(name: str, vhost: str, exchange: str, **more: Any) -> DaemonSettings:
    return DaemonSettings(name=name, handler=f"daemons.{name}.handler:react", vhost=vhost, exchange=exchange, **more)


CALIBRE_TIMEOUT = 600  # the default of calibre's `timeout` option (daemons/calibre/handler.py)

BUILTIN_DAEMONS: dict[str, DaemonSettings] = {
    d.name: d
    for d in (
        _rpc("aleph", "aleph", "search", extra_exchanges=("count", "validate", "export")),
        # A conversion may take its whole `timeout` option (600 s) after TERM: let it, then answer.
        _rpc("calibre", "calibre", "convert", stopwaitsecs=CALIBRE_TIMEOUT + 10),
        # Both act for ProFTPD's users (homes owned by the FTP uid, ProFTPD's AuthUserFile): root by
        # default; docs/operations.rst says what running them as another user takes.
        _rpc("ftp_manager", "ftp", "ftp", user="root"),
        DaemonSettings(name="ftp_monitor", handler="ftp_monitor.service:run", vhost="ftp", exchange="ftp",
                       input_queue=None, input_key=None, user="root"),
        _rpc("antivirus", "antivirus", "antivirus"),
        _rpc("harvester", "harvester", "harvester"),
        _rpc("ltp", "ltp", "ltp"),
        _rpc("pdfgen", "pdfgen", "pdfgen"),
        _rpc("downloader", "downloader", "downloader"),
        _rpc("storage", "storage", "export"),
        _rpc("marcxml2mods", "marcxml2mods", "export"),
        _rpc("aleph_link_export", "aleph", "update-links", input_queue="updater"),
    )
}

# Daemons that keep data under <state_dir>/<name>/ by default.
STATEFUL_DAEMONS = frozenset({"storage", "ltp", "aleph_link_export", "harvester"})
