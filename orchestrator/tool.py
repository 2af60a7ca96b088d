"""`edeposit-amqp-tool`: the old debugging tool — make a daemon's schema, send a request, read answers.

`edeposit_amqp_tool.py` is the same tool under its old name with its old options (`-s/--host`,
`-c/--create`, `-p/--put`, `-g/--get`, `-l/--list`, `-t/--timeout`) and its old `--get` output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Sequence

import pika

from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.rpc.settings import DaemonSettings
from daemons.rpc.vhosts import VhostError
from orchestrator import schema
from orchestrator.config import Config, ConfigError, load
from orchestrator.legacy_json import OLD_HOST_NAMES
from orchestrator.script_names import OLD_TOOL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edeposit-amqp-tool",
        description="AMQP tool for debugging and for making the RabbitMQ schema of a daemon.",
    )
    parser.add_argument("-c", "--config", help="INI file (same lookup as edeposit-amqpd)")
    parser.add_argument("--host", help="the daemon to talk to (aleph, calibre, ftp, antivirus, ...; "
                                       "`all` with --create)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--create", action="store_true", help="create the vhost, exchange, queues and bindings")
    action.add_argument("--list", action="store_true", help="list the daemons (hosts) this tool knows")
    action.add_argument("--put", metavar="FILE", help="send FILE (or - for stdin) as a request; prints its UUID")
    action.add_argument("--get", action="store_true", help="print and take every answer from the output queue")
    parser.add_argument("-t", "--timeout", type=float, metavar="SECONDS",
                        help="with --get: stop after SECONDS without a message (default: run until Ctrl-C)")
    parser.add_argument("--uuid", help="with --put: the UUID header to send (default: a new random one)")
    return parser


def build_old_parser() -> argparse.ArgumentParser:
    """`edeposit_amqp_tool.py`: the old tool's short options (-c is --create there, as it was)."""
    parser = argparse.ArgumentParser(
        prog=OLD_TOOL,
        description="AMQP tool used for debugging and automatic RabbitMQ schema making (the old options).",
    )
    parser.add_argument("--config", help="INI file (same lookup as edeposit-amqpd)")
    parser.add_argument("-l", "--list", action="store_true", help="list all possible hosts")
    parser.add_argument("-s", "--host", help="the host (daemon): see --list, or `all` with --create")
    parser.add_argument("-c", "--create", action="store_true", help="create exchanges/queues/routes for --host")
    parser.add_argument("-p", "--put", metavar="FILE", help="put FILE (- for stdin) into the input queue of --host")
    parser.add_argument("-g", "--get", action="store_true", help="get messages from the output queue of --host")
    parser.add_argument("-t", "--timeout", metavar="N", type=float, default=-1,
                        help="with --get: wait for a message only N seconds")
    parser.add_argument("--uuid", help="with --put: the UUID header to send (default: a new random one)")
    return parser


def daemon_name(host: str) -> str:
    """A host name as the old tool knew it (`downer`, `mx2mods`, `ftp`) or a daemon name -> the daemon name."""
    host = host.lower()
    return OLD_HOST_NAMES.get(host, host)


def hosts(config: Config) -> list[str]:
    """What `edeposit_amqp_tool.py --list` prints: the old host names, then any daemon of one's own."""
    return sorted(OLD_HOST_NAMES) + sorted(set(config.daemons) - set(BUILTIN_DAEMONS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = _load(args.config)
    if config is None:
        return 2
    if args.list:
        print("\n".join(sorted(config.daemons)))
        return 0
    return _act(parser, config, args, old_output=False)


def old_main(argv: Sequence[str] | None = None) -> int:
    parser = build_old_parser()
    args = parser.parse_args(argv)
    chosen = [flag for flag in ("list", "create", "put", "get") if getattr(args, flag)]
    if len(chosen) != 1:
        parser.error("give one of -l/--list, -c/--create, -p/--put, -g/--get")
    config = _load(args.config)
    if config is None:
        return 2
    if args.list:
        print("\n".join(hosts(config)))
        return 0
    if args.timeout is not None and args.timeout < 0:
        args.timeout = None
    return _act(parser, config, args, old_output=True)


def _load(path: str | None) -> Config | None:
    try:
        config = load(path)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return None
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


def _act(parser: argparse.ArgumentParser, config: Config, args: argparse.Namespace, old_output: bool) -> int:
    if not args.host:
        parser.error("--host NAME is required with --create, --put and --get")
    try:
        if args.host.lower() == "all":
            if not args.create:
                parser.error("--host all works with --create only; name one host for --put and --get")
            daemons = list(config.daemons.values())
        else:
            daemons = [config.daemon(daemon_name(args.host))]
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    daemon = daemons[0]
    try:
        if args.create:
            schema.create(config, daemons, note=lambda line: print(line, file=sys.stderr))
        elif args.put:
            print(put(config, daemon, args.put, args.uuid))
        else:
            get(config, daemon, args.timeout, old_output=old_output)
    except VhostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except pika.exceptions.AMQPError as exc:
        print(f"error: broker at {config.amqp.where}, vhost {daemon.vhost!r}: "
              f"{type(exc).__name__} {exc}; does the vhost exist? run `edeposit-amqp-tool --host {args.host} "
              f"--create`", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print()
    return 0


def _connect(config: Config, daemon: DaemonSettings) -> pika.BlockingConnection:
    return pika.BlockingConnection(config.amqp.node_parameters(daemon.vhost, name="edeposit-amqp-tool"))


def put(config: Config, daemon: DaemonSettings, path: str, request_uuid: str | None = None) -> str:
    """Publish a request body from a file (or stdin) the way an old client did; return its UUID."""
    body = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
    request_uuid = request_uuid or str(uuid.uuid4())
    connection = _connect(config, daemon)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            daemon.exchange,
            daemon.input_key or "request",
            body,
            pika.BasicProperties(content_type="application/json", delivery_mode=2, headers={"UUID": request_uuid}),
        )
    finally:
        connection.close()
    return request_uuid


def get(config: Config, daemon: DaemonSettings, timeout: float | None, old_output: bool = False) -> int:
    """Print each message of the output queue; return how many were printed.

    The output is the first old tool's (`Message:`, method, properties, body, `---`), or with `old_output`
    the last old tool's: one JSON object per message, then a line of dashes.
    """
    connection = _connect(config, daemon)
    printed = 0
    try:
        channel = connection.channel()
        quiet_since = time.monotonic()
        while timeout is None or time.monotonic() - quiet_since < timeout:
            method, properties, body = channel.basic_get(daemon.output_queue, auto_ack=False)
            if method is None:
                connection.sleep(0.05)
                continue
            text = body.decode("utf-8", "replace")
            if old_output:
                print(json.dumps({"method_frame": str(method), "properties": str(properties), "body": text}))
                print("-" * 79)
                print(flush=True)
            else:
                print("Message:")
                print(method)
                print(properties)
                print(text)
                print("---")
                print(flush=True)
            channel.basic_ack(method.delivery_tag)
            printed += 1
            quiet_since = time.monotonic()
    finally:
        if connection.is_open:
            connection.close()
    return printed


if __name__ == "__main__":
    sys.exit(main())
