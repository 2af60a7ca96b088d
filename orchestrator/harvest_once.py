"""One harvest outside the daemon, for the old script's `--harvest` (publish) and `--unittest` (print only).

It reads the same feeds and the same sent-titles database as the harvester daemon (and takes the same
harvest lock), so a title it publishes is not sent again by the daemon, and a dry run remembers nothing.
"""

from __future__ import annotations

import json
import logging
import sys

import pika
import pika.exceptions

from daemons.harvester.feeds import FeedConfigError, parse_feeds_option
from daemons.harvester.handler import OPTIONS_SPEC, make_harvest
from daemons.harvester.run import FeedError, harvest_once, preview
from daemons.harvester.structures import Publications
from daemons.rpc import answers, topology
from daemons.rpc.loader import HandlerError, validate_options
from daemons.rpc.settings import DaemonSettings
from daemons.rpc.wire import to_plain
from orchestrator.config import Config

EXIT_OK = 0
EXIT_FAILED = 1


def harvest_now(config: Config, settings: DaemonSettings, publish: bool) -> int:
    log = logging.getLogger(f"edeposit.{settings.name}")
    try:
        options = validate_options(settings.name, settings.options, OPTIONS_SPEC)
        feeds = parse_feeds_option(options.get("feeds"))
    except (HandlerError, FeedConfigError) as exc:
        print(f"config error: {config.source}: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    harvest = make_harvest(feeds, options, settings.data_dir, log)
    try:
        if publish:
            publications = harvest_once(harvest, lambda found: _publish(config, settings, found))
        else:
            publications = preview(harvest)
            print(json.dumps(to_plain(publications), ensure_ascii=False, indent=2))
    except FeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except pika.exceptions.AMQPError as exc:
        print(f"error: cannot publish to exchange {settings.exchange!r} of vhost {settings.vhost!r} at "
              f"{config.amqp.where}: {type(exc).__name__} {exc}; nothing was remembered as sent",
              file=sys.stderr)
        return EXIT_FAILED
    count = len(publications.publications)
    done = "published" if publish else "found (nothing was published or remembered)"
    print(f"{settings.name}: {count} new title(s) {done}", file=sys.stderr)
    return EXIT_OK


def _publish(config: Config, settings: DaemonSettings, publications: Publications) -> None:
    """Publish as the daemon's own harvests do: its exchange, its output key, UUID "", confirmed."""
    answer = answers.success(publications, "", settings.output_key, None, None)
    connection = pika.BlockingConnection(config.amqp.node_parameters(settings.vhost, name="edeposit harvest once"))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        topology.declare(channel, settings)
        channel.basic_publish(settings.exchange, answer.routing_key, answer.body, answer.properties, mandatory=True)
    finally:
        if connection.is_open:
            connection.close()
