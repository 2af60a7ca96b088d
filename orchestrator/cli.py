"""The `edeposit-amqpd` command: one entry point for the master, the workers and the schema."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from daemons import __version__
from daemons.rpc.loader import HandlerError, options_spec, validate_options
from daemons.rpc.runner import setup_logging
from orchestrator.config import Config, ConfigError, load

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_NOT_RUNNING = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edeposit-amqpd",
        description="Run the edeposit AMQP daemons from one config file.",
    )
    parser.add_argument("-c", "--config",
                        help="INI file (default: $EDEPOSIT_AMQPD_CONFIG, /etc/edeposit/amqpd.ini, built-in)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("start-all", help="start the master and every enabled daemon")
    sub.add_parser("stop-all", help="stop every daemon and the master")
    sub.add_parser("run", help="run the master in the foreground (for systemd)")
    status = sub.add_parser("status", help="show daemon states (exit 0: all running, 3: not)")
    status.add_argument("names", nargs="*", metavar="NAME")
    status.add_argument("--json", action="store_true", help="print a JSON list")
    for name, text in (("start", "start one daemon"), ("stop", "stop one daemon"), ("restart", "restart one daemon")):
        one = sub.add_parser(name, help=text)
        one.add_argument("name", metavar="NAME")
    tail = sub.add_parser("tail", help="show a daemon's log")
    tail.add_argument("name", metavar="NAME")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    tail.add_argument("-n", "--lines", type=int, default=40, help="lines to show (default 40)")
    sub.add_parser("reload", help="apply an edited config: restart only the daemons that changed")
    top = sub.add_parser("top", help="live view of every daemon (q quits)")
    top.add_argument("--once", action="store_true", help="print one frame and exit")
    top.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    sub.add_parser("check-config", help="validate the config (exit 0, or 2 with the errors)")
    schema = sub.add_parser("schema", help="create vhosts, exchanges, queues and bindings")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    create = schema_sub.add_parser("create", help="create the schema of one daemon or all")
    create.add_argument("name", nargs="?", default="all", metavar="NAME|all")
    sub.add_parser("proftpd-config", help="print the ProFTPD lines for the configured paths")
    worker = sub.add_parser("worker", help="run one daemon in the foreground (what the master runs)")
    worker.add_argument("name", metavar="NAME")
    worker.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        return _dispatch(args, config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, config: Config) -> int:
    command = args.command
    if command == "worker":
        return _worker(config, args.name, args.log_level)
    if command == "check-config":
        return _check_config(config)
    if command == "schema":
        return _schema(config, args.name)
    if command == "proftpd-config":
        from ftp_monitor.proftpd_config import render

        print(render(config.daemon("ftp_monitor").options, config.ftp), end="")
        return EXIT_OK
    if command == "top":
        from orchestrator import top

        return top.run(config, once=args.once, interval=args.interval)
    if command == "status":
        from orchestrator.status import status

        return status(config, args.names, as_json=args.json)
    from orchestrator import master

    if command == "start-all":
        return master.start_all(config)
    if command == "stop-all":
        return master.stop_all(config)
    if command == "run":
        return master.run_foreground(config)
    if command in ("start", "stop", "restart"):
        config.daemon(args.name)
        return getattr(master, command)(config, args.name)
    if command == "tail":
        config.daemon(args.name)
        return master.tail(config, args.name, follow=args.follow, lines=args.lines)
    if command == "reload":
        return master.reload(config)
    raise AssertionError(f"unhandled command {command}")


def _worker(config: Config, name: str, log_level: str) -> int:
    from daemons.rpc.daemonize import OwnedElsewhere
    from daemons.rpc.runner import run
    from daemons.rpc.topology import QueueTypeMismatch
    from orchestrator.ownership import claim_for_worker

    settings = config.daemon(name)
    setup_logging(log_level.upper(), config.orchestrator.log_format, name)
    try:
        owner = claim_for_worker(config, name)  # held until this process exits
    except OwnedElsewhere as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return run(settings, config.amqp)
    except QueueTypeMismatch as exc:
        logging.getLogger(f"edeposit.{name}").error("%s", exc)
        return EXIT_FAILED
    finally:
        os.close(owner)


def _check_config(config: Config) -> int:
    """Besides the INI itself, import every enabled handler and validate its options."""
    from orchestrator.spawn_checks import problems as spawn_problems

    problems = spawn_problems(config, config.enabled)  # users, python_path, directory
    for settings in config.enabled:
        try:
            validate_options(settings.name, settings.options, options_spec(settings))
        except HandlerError as exc:
            problems.append(f"{config.source}: {exc}")
        except Exception as exc:  # an import error names the handler, not our code
            problems.append(
                f"{config.source}: [daemons] [[{settings.name}]] handler = {settings.handler!r}: "
                f"cannot import: {type(exc).__name__}: {exc}"
            )
    if problems:
        print("config error:\n" + "\n".join(problems), file=sys.stderr)
        return EXIT_CONFIG
    enabled = ", ".join(d.name for d in config.enabled)
    print(f"{config.source}: OK ({len(config.enabled)} enabled daemons: {enabled})")
    return EXIT_OK


def _schema(config: Config, name: str) -> int:
    from daemons.rpc.topology import QueueTypeMismatch
    from daemons.rpc.vhosts import VhostError
    from orchestrator import schema

    daemons = list(config.daemons.values()) if name == "all" else [config.daemon(name)]
    try:
        schema.create(config, daemons)
    except (VhostError, QueueTypeMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        logging.getLogger("edeposit").debug("schema failed", exc_info=True)
        print(f"error: cannot reach the broker at {config.amqp.where}: {type(exc).__name__} {exc}",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
