"""The old `edeposit.amqp.harvester`: the structures of the harvester daemon, under their old names."""

from __future__ import annotations

from daemons.harvester.handler import Author, HarvestRequest, Optionals, Publication, Publications

__all__ = [
    "Author", "HarvestRequest", "Optionals", "Publication", "Publications",
]
