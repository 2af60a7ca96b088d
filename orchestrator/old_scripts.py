"""Entry points of the old per-daemon scripts; each loads the INI and hands over to daemons.rpc.daemonize."""

from __future__ import annotations

import sys

from daemons.rpc import daemonize
from daemons.rpc.runner import run, setup_logging
from orchestrator.config import ConfigError, load


def _main(name: str) -> int:
    try:
        config = load(None)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    settings = config.daemon(name)
    pidfile = config.orchestrator.state_dir / "run" / f"{name}.pid"
    log_file = config.orchestrator.log_dir / f"{name}.log"

    def serve() -> int:
        setup_logging()
        return run(settings, config.amqp)

    return daemonize.main(name, serve, pidfile, log_file)


def _entry(name: str):  # noqa: ANN202 - a console-script factory
    def entry() -> int:
        return _main(name)

    entry.__name__ = name
    return entry


aleph = _entry("aleph")
calibre = _entry("calibre")
ftp_manager = _entry("ftp_manager")
ftp_monitor = _entry("ftp_monitor")
antivirus = _entry("antivirus")
harvester = _entry("harvester")
ltp = _entry("ltp")
pdfgen = _entry("pdfgen")
downloader = _entry("downloader")
storage = _entry("storage")
marcxml2mods = _entry("marcxml2mods")
aleph_link_export = _entry("aleph_link_export")
