"""The old `edeposit.amqp.calibre`: the structures of the calibre daemon, under their old names."""

from __future__ import annotations

from daemons.calibre.handler import ConversionRequest, ConversionResponse

__all__ = [
    "ConversionRequest", "ConversionResponse",
]
