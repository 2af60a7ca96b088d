"""The old `edeposit.amqp.marcxml2mods`: the structures of the marcxml2mods daemon, under their old names."""

from __future__ import annotations

from daemons.marcxml2mods.handler import ConversionRequest, ConversionResponse

__all__ = [
    "ConversionRequest", "ConversionResponse",
]
