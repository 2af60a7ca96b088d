"""Entry points of the old per-daemon scripts; each loads the INI and hands over to daemons.rpc.daemonize.

Two scripts keep options of their own: `edeposit_amqp_ftp_monitord.py -n/--filename FILE` (the log to
tail) and `edeposit_amqp_harvester.py -r/--harvest` (harvest once now and publish) and `-u/--unittest`
(harvest once and print, publish nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from daemons.rpc import daemonize
from daemons.rpc.runner import run, setup_logging
from daemons.rpc.settings import DaemonSettings
from orchestrator import ownership
from orchestrator.config import Config, ConfigError, load

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def _load() -> Config | None:
    try:
        config = load(None)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return None
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


def _serve(config: Config, settings: DaemonSettings) -> Callable[[], int]:
    def serve() -> int:
        setup_logging()
        return run(settings, config.amqp)

    return serve


def _daemon(config: Config, settings: DaemonSettings, args: argparse.Namespace) -> int:
    name = settings.name
    return daemonize.act(name, args.action, _serve(config, settings), ownership.pidfile(config, name),
                         config.orchestrator.log_dir / f"{name}.log", args.foreground,
                         conflict=lambda: ownership.master_holder(config, name))


def _main(name: str, argv: Sequence[str] | None = None) -> int:
    config = _load()
    if config is None:
        return EXIT_CONFIG
    args = daemonize.build_parser(name).parse_args(argv)
    return _daemon(config, config.daemon(name), args)


# -- edeposit_amqp_ftp_monitord.py -n FILE ----------------------------------------------------------
def ftp_monitor(argv: Sequence[str] | None = None) -> int:
    config = _load()
    if config is None:
        return EXIT_CONFIG
    parser = daemonize.build_parser("ftp_monitor")
    parser.add_argument("-n", "--filename", metavar="FILE",
                        help="the ProFTPD ExtendedLog to tail (default: log_file of [[ftp_monitor]])")
    args = parser.parse_args(argv)
    settings = config.daemon("ftp_monitor")
    if args.filename and args.action != "stop":
        log_file = Path(args.filename).expanduser().absolute()
        if not log_file.is_file():
            print(f"{parser.prog}: -n {args.filename}: no such file; give the ProFTPD ExtendedLog "
                  f"(the `ExtendedLog` line of proftpd.conf names it)", file=sys.stderr)
            return EXIT_FAILED
        settings = dataclasses.replace(settings, options={**settings.options, "log_file": str(log_file)})
    return _daemon(config, settings, args)


# -- edeposit_amqp_harvester.py -r | -u ----------------------------------------------------------------
def harvester(argv: Sequence[str] | None = None) -> int:
    config = _load()
    if config is None:
        return EXIT_CONFIG
    parser = daemonize.build_parser("harvester", action_required=False)
    once = parser.add_mutually_exclusive_group()
    once.add_argument("-r", "--harvest", action="store_true",
                      help="harvest every feed once now and publish the new titles, then exit")
    once.add_argument("-u", "--unittest", action="store_true",
                      help="harvest every feed once and print the new titles; publish and remember nothing")
    args = parser.parse_args(argv)
    settings = config.daemon("harvester")
    if args.harvest or args.unittest:
        if args.action:
            parser.error("-r/--harvest and -u/--unittest run once; leave out start/stop/restart")
        from orchestrator.harvest_once import harvest_now

        setup_logging()
        return harvest_now(config, settings, publish=args.harvest)
    if not args.action:
        parser.print_help()
        return EXIT_FAILED
    return _daemon(config, settings, args)


def _entry(name: str) -> Callable[[], int]:
    def entry() -> int:
        return _main(name)

    entry.__name__ = name
    return entry


aleph = _entry("aleph")
calibre = _entry("calibre")
ftp_manager = _entry("ftp_manager")
antivirus = _entry("antivirus")
ltp = _entry("ltp")
pdfgen = _entry("pdfgen")
downloader = _entry("downloader")
storage = _entry("storage")
marcxml2mods = _entry("marcxml2mods")
aleph_link_export = _entry("aleph_link_export")
