"""The chaos suite's echo with its request structure INLINE: the same answers, served on the connection's
own thread (a redelivered request still goes to the handler thread)."""

from __future__ import annotations

from tests.handlers.chaos_echo import Echo, Token, react

STRUCTURES = (Token, Echo)
INLINE = ("Token",)

__all__ = ["Echo", "INLINE", "STRUCTURES", "Token", "react"]
