"""The `edeposit-amqpd` command: one entry point for the master, the workers and the schema."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, cast

from daemons import __version__
from daemons.rpc.runner import setup_logging
from daemons.rpc.settings import DaemonSettings
from orchestrator.config import Config, ConfigError, load

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_NOT_RUNNING = 3


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-c", "--config", default=default,
                        help="INI file (default: $EDEPOSIT_AMQPD_CONFIG, /etc/edeposit/amqpd.ini, built-in)")


def build_parser() -> argparse.ArgumentParser:
    """Global options work before the command and after it (`status -c FILE`): each subparser has them
    too, with a default that leaves a value given before the command in place."""
    parser = argparse.ArgumentParser(
        prog="edeposit-amqpd",
        description="Run the edeposit AMQP daemons from one config file.",
    )
    _global_options(parser, None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, parent: Any = sub) -> argparse.ArgumentParser:
        return cast(argparse.ArgumentParser, parent.add_parser(name, help=text, parents=[common]))

    command("start-all", "start the master and every enabled daemon")
    command("stop-all", "stop every daemon and the master")
    command("run", "run the master in the foreground (for systemd)")
    status = command("status", "show daemon states (exit 0: all running, 3: not)")
    status.add_argument("names", nargs="*", metavar="NAME")
    status.add_argument("--json", action="store_true", help="print a JSON list")
    for name, text in (("start", "start one daemon"), ("stop", "stop one daemon"), ("restart", "restart one daemon")):
        one = command(name, text)
        one.add_argument("name", metavar="NAME")
    tail = command("tail", "show a daemon's log")
    tail.add_argument("name", metavar="NAME")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    tail.add_argument("-n", "--lines", type=int, default=40, help="lines to show (default 40)")
    command("reload", "apply an edited config: restart only the daemons that changed")
    top = command("top", "live view of every daemon (q quits)")
    top.add_argument("--once", action="store_true", help="print one frame and exit")
    top.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    command("check-config", "report every problem of the config (exit 0, or 2 with the problems)")
    schema = command("schema", "create or delete vhosts, exchanges, queues and bindings")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    create = command("create", "create the schema of one daemon or all", schema_sub)
    create.add_argument("name", nargs="?", default="all", metavar="NAME|all")
    delete = command("delete", "delete what `schema create` made, for one daemon or all", schema_sub)
    delete.add_argument("name", metavar="NAME|all")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    command("proftpd-config", "print the ProFTPD lines for the configured paths")
    worker = command("worker", "run one daemon in the foreground (what the master runs)")
    worker.add_argument("name", metavar="NAME")
    worker.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.config)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)  # each line names the file
        return EXIT_CONFIG
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        return _dispatch(args, config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, config: Config) -> int:
    command = args.command
    if command == "worker":
        return _worker(config, args.name, args.log_level)
    if command == "schema":
        if args.schema_command == "delete":
            return _schema_delete(config, args.name, args.yes)
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


def _check_config(path: str | None) -> int:
    """Every problem at once: the INI, the handlers and their options, users and paths."""
    from orchestrator.check import problems

    config, source, found = problems(path)
    if config is not None:
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if found:
        print("\n".join(found), file=sys.stderr)
        print(f"{source}: {len(found)} problem{'s' if len(found) != 1 else ''} found", file=sys.stderr)
        return EXIT_CONFIG
    assert config is not None
    enabled = ", ".join(d.name for d in config.enabled)
    number = len(config.enabled)
    print(f"{config.source}: OK ({number} enabled daemon{'s' if number != 1 else ''}: {enabled})")
    return EXIT_OK


def _schema_daemons(config: Config, name: str) -> list[DaemonSettings]:
    """`all` is every enabled daemon; a name may be a disabled one."""
    return list(config.enabled) if name == "all" else [config.daemon(name)]


def _broker_failure(config: Config, exc: Exception) -> int:
    from daemons.rpc.topology import QueueTypeMismatch
    from daemons.rpc.vhosts import VhostError

    if isinstance(exc, VhostError | QueueTypeMismatch):
        print(f"error: {exc}", file=sys.stderr)
    else:
        logging.getLogger("edeposit").debug("schema failed", exc_info=True)
        print(f"error: cannot reach the broker at {config.amqp.where}: {type(exc).__name__} {exc}",
              file=sys.stderr)
    return EXIT_FAILED


def _schema(config: Config, name: str) -> int:
    from orchestrator import schema

    try:
        schema.create_reported(config, _schema_daemons(config, name))
    except ConfigError:
        raise
    except Exception as exc:
        return _broker_failure(config, exc)
    return EXIT_OK


def _confirmed(question: str) -> bool:
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _schema_delete(config: Config, name: str, yes: bool) -> int:
    """Refuse while a daemon runs; show what goes (and the messages it holds); ask unless --yes."""
    from orchestrator import schema
    from orchestrator.advice import command

    daemons = _schema_daemons(config, name)
    held = schema.running_holders(config, daemons)
    if held:
        print("error: refusing to delete the schema of a running daemon:\n" + "\n".join(held), file=sys.stderr)
        return EXIT_FAILED
    plans = schema.plan_delete(config, daemons)
    try:
        if not schema.describe_delete(config, plans):
            print("nothing to delete")
            return EXIT_OK
        if not yes:
            if not sys.stdin.isatty():
                again = command(config, "schema", "delete", name, "--yes")
                print(f"error: not deleting without confirmation: run {again}", file=sys.stderr)
                return EXIT_FAILED
            if not _confirmed("Delete these?"):
                print("nothing was deleted")
                return EXIT_FAILED
        schema.delete(config, plans)
    except Exception as exc:
        return _broker_failure(config, exc)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
