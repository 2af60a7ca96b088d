"""The old `edeposit.amqp.aleph_link_export`: the structures of the aleph_link_export daemon, under their old names."""

from __future__ import annotations

from daemons.aleph_link_export.handler import (
    LinkDescription,
    LinkUpdateRequest,
    LinkUpdateResponse,
    StatusRequest,
)

__all__ = [
    "LinkDescription", "LinkUpdateRequest", "LinkUpdateResponse", "StatusRequest",
]
