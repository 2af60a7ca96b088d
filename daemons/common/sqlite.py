"""Opening the daemons' SQLite databases the same way everywhere: waiting for a busy writer, WAL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 60.0


def connect(path: Path, shared: bool = False, explicit_transactions: bool = False) -> sqlite3.Connection:
    """A connection that waits up to a minute for another process's write instead of failing at once.

    `shared` allows the connection to be used from another thread than the one that opened it (the caller
    then keeps the uses apart); `explicit_transactions` leaves BEGIN/COMMIT to the caller. The database is
    switched to WAL, so readers never block the writer.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=not shared,
                         isolation_level=None if explicit_transactions else "DEFERRED")
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection for one unit of work: committed when the block ends, rolled back on an error, closed."""
    with closing(connect(path)) as db, db:
        yield db
