"""The built-in daemons and their default AMQP names (equal to the old edeposit.amqp settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DaemonDefaults:
    """Defaults of one built-in daemon; a config section overrides any of them."""

    name: str
    vhost: str
    exchange: str
    input_queue: str | None
    output_queue: str
    input_key: str | None
    output_key: str
    handler: str
    extra_exchanges: tuple[str, ...] = ()


def _rpc(name: str, vhost: str, exchange: str, input_queue: str = "daemon") -> DaemonDefaults:
    return DaemonDefaults(
        name=name,
        vhost=vhost,
        exchange=exchange,
        input_queue=input_queue,
        output_queue="plone",
        input_key="request",
        output_key="result",
        handler=f"daemons.{name}.handler:react",
    )


BUILTIN_DAEMONS: dict[str, DaemonDefaults] = {
    d.name: d
    for d in (
        DaemonDefaults(
            name="aleph",
            vhost="aleph",
            exchange="search",
            input_queue="daemon",
            output_queue="plone",
            input_key="request",
            output_key="result",
            handler="daemons.aleph.handler:react",
            extra_exchanges=("count", "validate", "export"),
        ),
        _rpc("calibre", "calibre", "convert"),
        _rpc("ftp_manager", "ftp", "ftp"),
        DaemonDefaults(
            name="ftp_monitor",
            vhost="ftp",
            exchange="ftp",
            input_queue=None,
            output_queue="plone",
            input_key=None,
            output_key="result",
            handler="ftp_monitor.service:run",
        ),
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
