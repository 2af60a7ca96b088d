"""The harvester's message structures, in a module of their own so the feed readers can build them.

The handler module `daemons.harvester.handler` lists them in its STRUCTURES. Field names are those of
the old edeposit.amqp.harvester.
"""

from __future__ import annotations

from collections import namedtuple

HarvestRequest = namedtuple("HarvestRequest", "")
Publications = namedtuple("Publications", "publications")
Publication = namedtuple("Publication", "title authors price publisher optionals")
Author = namedtuple("Author", "name URL")
Optionals = namedtuple(
    "Optionals",
    "sub_title format pub_date pub_place ISBN description pages EAN language edition URL binding is_ebook",
)


def empty_optionals() -> Optionals:
    """Every optional field unknown (None), `is_ebook` False; readers fill in what their feed has."""
    return Optionals._make([None] * (len(Optionals._fields) - 1) + [False])
