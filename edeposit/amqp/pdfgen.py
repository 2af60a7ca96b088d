"""The old `edeposit.amqp.pdfgen`: the structures of the pdfgen daemon, under their old names."""

from __future__ import annotations

from daemons.pdfgen.handler import PDF, RST2PDF, Author, GenerateContract, GenerateReview

__all__ = [
    "Author", "GenerateContract", "GenerateReview", "PDF", "RST2PDF",
]
