"""`edeposit-amqp-tool`: the old debugging tool — make a daemon's schema, send a request, read answers."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Sequence

import pika

from daemons.rpc.settings import DaemonSettings
from daemons.rpc.vhosts import VhostError
from orchestrator import schema
from orchestrator.config import Config, ConfigError, load

# Names the old tool knew its "hosts" by.
OLD_HOST_NAMES = {"ftp": "ftp_manager", "downer": "downloader"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edeposit-amqp-tool",
        description="AMQP tool for debugging and for making the RabbitMQ schema of a daemon.",
    )
    parser.add_argument("-c", "--config", help="INI file (same lookup as edeposit-amqpd)")
    parser.add_argument("--host", help="the daemon to talk to (aleph, calibre, ftp, antivirus, ...)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--create", action="store_true", help="create the vhost, exchange, queues and bindings")
    action.add_argument("--list", action="store_true", help="list the daemons (hosts) this tool knows")
    action.add_argument("--put", metavar="FILE", help="send FILE (or - for stdin) as a request; prints its UUID")
    action.add_argument("--get", action="store_true", help="print and take every answer from the output queue")
    parser.add_argument("-t", "--timeout", type=float, metavar="SECONDS",
                        help="with --get: stop after SECONDS without a message (default: run until Ctrl-C)")
    parser.add_argument("--uuid", help="with --put: the UUID header to send (default: a new random one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(sorted(config.daemons)))
        return 0
    if not args.host:
        parser.error("--host NAME is required with --create, --put and --get")
    try:
        daemon = config.daemon(OLD_HOST_NAMES.get(args.host.lower(), args.host.lower()))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.create:
            schema.create(config, [daemon], note=lambda line: print(line, file=sys.stderr))
        elif args.put:
            print(put(config, daemon, args.put, args.uuid))
        else:
            get(config, daemon, args.timeout)
    except VhostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except pika.exceptions.AMQPError as exc:
        print(f"error: broker at {config.amqp.host}:{config.amqp.port}, vhost {daemon.vhost!r}: "
              f"{type(exc).__name__} {exc}; does the vhost exist? run `edeposit-amqp-tool --host {args.host} "
              f"--create`", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print()
    return 0


def _connect(config: Config, daemon: DaemonSettings) -> pika.BlockingConnection:
    return pika.BlockingConnection(config.amqp.parameters(daemon.vhost, name="edeposit-amqp-tool"))


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


def get(config: Config, daemon: DaemonSettings, timeout: float | None) -> int:
    """Print each message of the output queue as the old tool did; return how many were printed."""
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
            print("Message:")
            print(method)
            print(properties)
            print(body.decode("utf-8", "replace"))
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
