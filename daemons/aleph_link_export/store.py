"""SQLite memory of the Aleph file exchange: requests still waiting, results not yet delivered, files read.

Everything a restart must not lose lives here, and each incoming file is taken in one transaction
together with its digest, so a crash between "stored" and "file removed" cannot deliver it twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import AbstractContextManager
from pathlib import Path

from daemons.aleph_link_export.files import LinkResult, ResultFile
from daemons.aleph_link_export.requests import PendingLink
from daemons.common import sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    session_id TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    collected_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS collected_files (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    collected_at REAL NOT NULL
);
"""


class LinkStore:
    """`<data_dir>/aleph_link_export.sqlite`; one connection per call, so any thread or process may use it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite.transaction(self.path)

    def add_pending(self, link: PendingLink) -> None:
        """Remember a request; a second request with the same session_id replaces the first."""
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO pending (session_id, request, received_at) VALUES (?, ?, ?)",
                       (link.session_id, json.dumps(link.to_dict()), time.time()))

    def pending(self) -> list[PendingLink]:
        with self._connect() as db:
            rows = db.execute("SELECT request FROM pending ORDER BY received_at, session_id").fetchall()
        return [PendingLink.from_dict(json.loads(row[0])) for row in rows]

    def is_collected(self, digest: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM collected_files WHERE digest = ?", (digest,)).fetchone() is not None

    def collect(self, result_file: ResultFile) -> list[str]:
        """Store a file's results and close their requests; returns session_ids nobody was waiting for."""
        now = time.time()
        unknown = []
        with self._connect() as db:
            for result in result_file.results:
                closed = db.execute("DELETE FROM pending WHERE session_id = ?", (result.session_id,)).rowcount
                if not closed:
                    unknown.append(result.session_id)
                db.execute("INSERT INTO results (session_id, status, reason, collected_at) VALUES (?, ?, ?, ?)",
                           (result.session_id, result.status, result.reason, now))
            db.execute("INSERT OR IGNORE INTO collected_files (digest, name, collected_at) VALUES (?, ?, ?)",
                       (result_file.digest, result_file.path.name, now))
        return unknown

    def take_results(self) -> list[LinkResult]:
        """Every undelivered result, oldest first, removed from the store as it is handed out."""
        with self._connect() as db:
            rows = db.execute("SELECT id, session_id, status, reason FROM results ORDER BY id").fetchall()
            if rows:
                db.execute("DELETE FROM results WHERE id <= ?", (rows[-1][0],))
        return [LinkResult(session_id, status, reason) for _, session_id, status, reason in rows]

    def restore(self, results: list[LinkResult]) -> None:
        """Put results back that could not be delivered (the broker went away), ahead of newer ones."""
        with self._connect() as db:
            first = db.execute("SELECT MIN(id) FROM results").fetchone()[0]
            start = (first if first is not None else 1) - len(results)
            db.executemany("INSERT INTO results (id, session_id, status, reason, collected_at) VALUES (?, ?, ?, ?, ?)",
                           ((start + n, r.session_id, r.status, r.reason, time.time()) for n, r in enumerate(results)))
