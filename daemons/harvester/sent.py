"""Remembers in SQLite which titles were already sent, so a title goes out once however often it is harvested."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from daemons.common import sqlite
from daemons.harvester.titles import HarvestedTitle

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    key TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    sent_at REAL NOT NULL
)
"""
_CHUNK = 500  # keys per query, well under SQLite's limit on bound parameters


class SentTitles:
    """The `sent` table of `<data_dir>/harvester.sqlite`; one connection per call, so any thread may use it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite.transaction(self.path)

    def unsent(self, titles: Iterable[HarvestedTitle]) -> list[HarvestedTitle]:
        """The titles not sent before, in order, each key once (the first feed that lists it wins)."""
        unique: dict[str, HarvestedTitle] = {}
        for title in titles:
            unique.setdefault(title.key, title)
        keys = list(unique)
        seen: set[str] = set()
        with self._connect() as db:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                seen.update(row[0] for row in db.execute(f"SELECT key FROM sent WHERE key IN ({marks})", chunk))
        return [title for key, title in unique.items() if key not in seen]

    def mark_sent(self, titles: Iterable[HarvestedTitle]) -> None:
        now = time.time()
        with self._connect() as db:
            db.executemany(
                "INSERT OR IGNORE INTO sent (key, title, sent_at) VALUES (?, ?, ?)",
                ((title.key, title.publication.title, now) for title in titles),
            )

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM sent").fetchone()[0])
