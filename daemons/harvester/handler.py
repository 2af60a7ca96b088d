"""harvester: reads publishers' OPDS 1.2 and ONIX 3.0 feeds and sends each new title once.

On request (`HarvestRequest`) it answers with the new titles as `Publications`; with `interval` > 0 it
also harvests on its own and publishes `Publications` on its exchange with the output key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from daemons.harvester.feeds import FeedConfigError, FeedSource, parse_feeds_option
from daemons.harvester.run import Harvest, harvest_once
from daemons.harvester.schedule import HarvestSchedule
from daemons.harvester.sent import SentTitles
from daemons.harvester.structures import (
    Author,
    HarvestRequest,
    Optionals,
    Publication,
    Publications,
)
from daemons.rpc.handler import HandlerContext
from daemons.rpc.worker import SessionLost

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    Author, HarvestRequest, Optionals, Publication, Publications
)

OPTIONS_SPEC = """
feeds = force_list(default=list())
interval = float(min=0, default=3600)
timeout = float(min=0.1, default=30)
"""

_harvest: Harvest | None = None
_schedule: HarvestSchedule | None = None


class NotConfiguredError(RuntimeError):
    """react() was called before configure(context)."""


def configure(context: HandlerContext) -> None:
    """Read the options, open the sent-titles database and start the schedule when `interval` > 0."""
    global _harvest, _schedule
    try:
        feeds = parse_feeds_option(context.options.get("feeds"))
    except FeedConfigError as exc:
        raise FeedConfigError(f"[daemons] [[{context.name}]] [[[options]]] {exc}") from None
    if _schedule is not None:
        _schedule.stop()
        _schedule = None
    _harvest = make_harvest(feeds, context.options, context.data_dir, context.log)
    interval = float(context.options.get("interval", 0))
    if interval > 0 and feeds:
        harvest, deliver = _harvest, _publisher(context.publish)
        _schedule = HarvestSchedule(interval, lambda: harvest_once(harvest, deliver), context.log,
                                    retryable=(SessionLost,))
        _schedule.start()
        context.log.info("harvesting %d feed(s) every %s s", len(feeds), interval)


def make_harvest(feeds: list[FeedSource], options: Mapping[str, Any], data_dir: Path, log: logging.Logger) -> Harvest:
    """The daemon's harvest (its sent-titles database and lock under `data_dir`); also used by the old
    script's one-shot `--harvest` and `--unittest`."""
    return Harvest(
        feeds=feeds,
        sent=SentTitles(data_dir / "harvester.sqlite"),
        lock_path=data_dir / "harvest.lock",
        timeout=float(options.get("timeout", 30)),
        log=log,
    )


def _publisher(publish: Callable[..., None]) -> Callable[[Publications], None]:
    """context.publish, with "the worker is not running yet" reported as SessionLost (retry next round)."""

    def deliver(publications: Publications) -> None:
        try:
            publish(publications)
        except SessionLost:
            raise
        except RuntimeError as exc:
            raise SessionLost(str(exc)) from exc

    return deliver


def health() -> str | None:
    if _harvest is not None and not _harvest.feeds:
        return ("no feeds configured: set feeds = opds:<URL or path>, onix:<URL or path> in "
                "[daemons] [[harvester]] [[[options]]]")
    return None


def react(message: Any, send_back: Any) -> Any:
    if _harvest is None:
        raise NotConfiguredError("the harvester is not configured: call configure(context) first")
    if isinstance(message, HarvestRequest):
        return harvest_once(_harvest)
    raise TypeError(f"harvester cannot handle {type(message).__name__}; send HarvestRequest")


def shutdown() -> None:
    """Stop the schedule thread; the runner calls this once the worker stopped consuming."""
    global _schedule
    if _schedule is not None:
        _schedule.stop()
        _schedule = None

