"""Messages in the old wire format, as old clients send them (copied from the design's shared/wire)."""

from pathlib import Path

WIRE = Path(__file__).resolve().parent / "wire"
