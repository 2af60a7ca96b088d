"""The SQLite catalogue of stored records: one table per record kind, searched by field equality.

Columns have no declared type, so SQLite compares values exactly as stored ("2014" never equals 2014;
records.py stores one type per field). Writers take the database's write lock for the whole save
(`BEGIN IMMEDIATE`), so several worker processes can share one data_dir; readers are not blocked (WAL).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from daemons.common import sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS publications (
    id INTEGER PRIMARY KEY, title, author, pub_year, isbn, urnnbn, uuid, aleph_id, producent_id, is_public,
    filename, is_periodical, path, sha256, file_path, saved_at);
CREATE INDEX IF NOT EXISTS publications_uuid ON publications (uuid);
CREATE INDEX IF NOT EXISTS publications_isbn ON publications (isbn);
CREATE INDEX IF NOT EXISTS publications_aleph_id ON publications (aleph_id);
CREATE INDEX IF NOT EXISTS publications_file_path ON publications (file_path);
CREATE TABLE IF NOT EXISTS archives (
    id INTEGER PRIMARY KEY, isbn, uuid, aleph_id, sha256, zip_path, dir_path, saved_at);
CREATE INDEX IF NOT EXISTS archives_uuid ON archives (uuid);
CREATE INDEX IF NOT EXISTS archives_zip_path ON archives (zip_path);
CREATE TABLE IF NOT EXISTS trees (
    id INTEGER PRIMARY KEY, path UNIQUE, name, aleph_id, issn, is_public, path_array, sub_trees,
    sub_publications, tree, saved_at);
CREATE INDEX IF NOT EXISTS trees_issn ON trees (issn);
"""

COLUMNS = {
    "publications": ("title", "author", "pub_year", "isbn", "urnnbn", "uuid", "aleph_id", "producent_id", "is_public",
                     "filename", "is_periodical", "path", "sha256", "file_path"),
    "archives": ("isbn", "uuid", "aleph_id", "sha256", "zip_path", "dir_path"),
    "trees": ("path", "name", "aleph_id", "issn", "is_public", "path_array", "sub_trees", "sub_publications", "tree"),
}


class Catalog:
    """One SQLite database file; used from the handler's thread (opened in configure)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite.connect(path, shared=True, explicit_transactions=True)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction holding the database's write lock from the start."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @staticmethod
    def _columns(table: str, names: Any) -> list[str]:
        known = COLUMNS[table]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise KeyError(f"table {table} has no column(s) {', '.join(unknown)}")
        return list(names)

    def find(self, table: str, equal: Mapping[str, Any], limit: int | None = None) -> list[sqlite3.Row]:
        """Rows whose columns equal every value in `equal` (AND), oldest first."""
        names = self._columns(table, equal)
        where = " AND ".join(f"{name} = ?" for name in names) or "1"
        sql = f"SELECT * FROM {table} WHERE {where} ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.db.execute(sql, [equal[name] for name in names]).fetchall()

    def get(self, table: str, row_id: int) -> sqlite3.Row:
        self._columns(table, [])
        return self.db.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()

    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        names = self._columns(table, values)
        sql = (f"INSERT INTO {table} ({', '.join(names)}, saved_at) "
               f"VALUES ({', '.join('?' for _ in names)}, ?)")
        return self.db.execute(sql, [values[name] for name in names] + [time.time()]).lastrowid or 0

    def update(self, table: str, row_id: int, values: Mapping[str, Any]) -> None:
        names = self._columns(table, values)
        assignments = ", ".join(f"{name} = ?" for name in names)
        self.db.execute(f"UPDATE {table} SET {assignments}, saved_at = ? WHERE id = ?",
                        [values[name] for name in names] + [time.time(), row_id])

    def delete(self, table: str, row_id: int) -> None:
        self.db.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))

    def is_referenced(self, table: str, column: str, value: str) -> bool:
        self._columns(table, [column])
        return self.db.execute(f"SELECT 1 FROM {table} WHERE {column} = ? LIMIT 1", (value,)).fetchone() is not None
