"""Saving and searching publications, archives and trees: the catalogue plus the file tree.

Layout under data_dir:

    catalog.sqlite3               the metadata of every record
    public/ab/cd/<sha256>.<ext>   files of public publications (a web server may serve this directory)
    private/ab/cd/<sha256>.<ext>  files of other publications (never served)
    archives/ab/cd/<sha256>.zip   archives as received, and beside each its unpacked directory <sha256>/

A record's `file_pointer` / `dir_pointer` is the absolute path of its file / unpacked directory; `url` is
`<public_url>/ab/cd/<sha256>.<ext>` for public publications when `public_url` is set.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from daemons.rpc.wire import StructureRegistry, deserialize, to_plain
from daemons.storage import archives
from daemons.storage.catalog import Catalog
from daemons.storage.files import balanced_path, digest_of, remove_quietly, safe_suffix, store_content, write_atomically
from daemons.storage.records import (
    ARCHIVE_TEXT,
    PUBLICATION_FLAGS,
    PUBLICATION_TEXT,
    TREE_FLAGS,
    TREE_TEXT,
    checked_path_array,
    decoded_data,
    fields_of,
    list_field,
    tree_path,
    tree_path_array,
)
from daemons.storage.structures import Archive, Publication, Tree, TreeInfo

TREE_REGISTRY = StructureRegistry([Tree, Publication])


class StorageError(RuntimeError):
    """The stored data is not as the catalogue says (e.g. a file was removed by hand)."""


class TooManyResults(ValueError):
    """A search matched more records than max_results."""


@dataclass(frozen=True)
class StorageOptions:
    data_dir: Path
    public_url: str | None = None
    max_archive_bytes: int = 2 * 1024**3
    max_archive_files: int = 100_000
    max_results: int = 10_000


def canonical_json(value: Any) -> str:
    return json.dumps(to_plain(value), sort_keys=True, ensure_ascii=False)


class Storage:
    def __init__(self, options: StorageOptions) -> None:
        self.options = options
        self.root = options.data_dir
        self.public_dir = self.root / "public"
        self.private_dir = self.root / "private"
        self.archive_dir = self.root / "archives"
        for directory in (self.public_dir, self.private_dir, self.archive_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.root / "catalog.sqlite3")

    def close(self) -> None:
        self.catalog.close()

    # -- paths and URLs ----------------------------------------------------------------------------
    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def absolute(self, relative: str | None) -> str | None:
        return None if relative is None else str(self.root / relative)

    def relative_pointer(self, pointer: str) -> str:
        """A pointer from a query, as stored: relative to data_dir (an outside path matches nothing)."""
        path = Path(pointer)
        if path.is_absolute():
            return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else "\0outside"
        return path.as_posix()

    def public_url(self, relative: str | None) -> str | None:
        if not self.options.public_url or not relative or not relative.startswith("public/"):
            return None
        return f"{self.options.public_url.rstrip('/')}/{quote(relative.removeprefix('public/'))}"

    def tree_urls(self, path: str, issn: str | None, is_public: bool | None) -> tuple[str | None, str | None]:
        base = (self.options.public_url or "").rstrip("/")
        if not base or not is_public:
            return None, None
        return f"{base}/trees{quote(path)}", (f"{base}/issn/{quote(issn, safe='')}" if issn else None)

    # -- publications ------------------------------------------------------------------------------
    def save_publication(self, publication: Any) -> Any:
        """Store it and return it without its data; an earlier record with the same uuid and filename is replaced."""
        values = fields_of(publication, PUBLICATION_TEXT, PUBLICATION_FLAGS)
        data = decoded_data(publication)
        with self.catalog.writing():
            earlier = []
            if values["uuid"] is not None and values["filename"] is not None:
                earlier = self.catalog.find("publications", {"uuid": values["uuid"], "filename": values["filename"]})
            directory = self.public_dir if values["is_public"] else self.private_dir
            kept = earlier[-1]["file_path"] if earlier and data is None else None
            if kept is not None and not (self.root / kept).is_relative_to(directory):
                data = self._read_bytes(kept, f"publication uuid={values['uuid']!r}")  # is_public changed: move it
            if data is not None:
                path = store_content(directory, data, safe_suffix(values["filename"]))
                values.update(sha256=digest_of(data), file_path=self.relative(path))
            elif kept is not None:
                values.update(sha256=earlier[-1]["sha256"], file_path=kept)
            for row in earlier:
                self.catalog.delete("publications", row["id"])
            row_id = self.catalog.insert("publications", values)
            for row in earlier:
                self._remove_unreferenced("publications", "file_path", row["file_path"])
            stored = self.catalog.get("publications", row_id)
        return self._publication(stored, light=True)

    def _publication(self, row: Any, light: bool) -> Any:
        data = None if light else self._read(row["file_path"], f"publication uuid={row['uuid']!r}")
        flags = {field: None if row[field] is None else bool(row[field]) for field in PUBLICATION_FLAGS}
        return Publication(**{field: row[field] for field in PUBLICATION_TEXT}, **flags,
                           b64_data=data, url=self.public_url(row["file_path"]),
                           file_pointer=self.absolute(row["file_path"]))

    # -- archives ----------------------------------------------------------------------------------
    def save_archive(self, archive: Any) -> Any:
        """Store the ZIP and unpack it safely; an earlier archive with the same uuid is replaced."""
        values = fields_of(archive, ARCHIVE_TEXT)
        data = decoded_data(archive)
        if data is None:
            raise ValueError("Archive.b64_data = None: an archive to save needs its ZIP content in b64_data")
        limits = archives.ArchiveLimits(self.options.max_archive_bytes, self.options.max_archive_files)
        digest = digest_of(data)
        zip_path = balanced_path(self.archive_dir, digest, ".zip")
        dir_path = balanced_path(self.archive_dir, digest)
        with archives.open_zip(data) as parsed:
            archives.plan(parsed, limits)
        with self.catalog.writing():
            if not dir_path.is_dir():
                archives.unpack(data, dir_path, limits)
            if not zip_path.is_file():
                write_atomically(zip_path, data)
            earlier = self.catalog.find("archives", {"uuid": values["uuid"]}) if values["uuid"] is not None else []
            for row in earlier:
                self.catalog.delete("archives", row["id"])
            values.update(sha256=digest, zip_path=self.relative(zip_path), dir_path=self.relative(dir_path))
            self.catalog.insert("archives", values)
            for row in earlier:
                if not self.catalog.is_referenced("archives", "zip_path", row["zip_path"]):
                    remove_quietly(self.root / row["dir_path"])
                    remove_quietly(self.root / row["zip_path"])
        return Archive(**{field: values[field] for field in ARCHIVE_TEXT}, b64_data=None,
                       dir_pointer=self.absolute(values["dir_path"]))

    def _archive(self, row: Any, light: bool) -> Any:
        data = None if light else self._read(row["zip_path"], f"archive uuid={row['uuid']!r}")
        return Archive(**{field: row[field] for field in ARCHIVE_TEXT}, b64_data=data,
                       dir_pointer=self.absolute(row["dir_path"]))

    # -- trees -------------------------------------------------------------------------------------
    def save_tree(self, tree: Any) -> Any:
        """Store the tree and, each under its own path, every sub-tree; a tree with the same path is replaced."""
        with self.catalog.writing():
            normalised = self._save_tree(tree, None)
        path = tree_path(normalised.path_array)
        url_by_path, url_by_issn = self.tree_urls(path, normalised.issn, normalised.is_public)
        return TreeInfo(path=path, url_by_path=url_by_path, url_by_issn=url_by_issn)

    def _save_tree(self, tree: Any, parent: list[str] | None) -> Any:
        if not isinstance(tree, Tree):
            raise ValueError(f"Tree.sub_trees holds {type(tree).__name__}: expected Tree structures")
        path_array = tree_path_array(tree, parent)
        values = fields_of(tree, TREE_TEXT, TREE_FLAGS)
        sub_trees = [self._save_tree(sub, path_array) for sub in list_field(tree, "sub_trees")]
        normalised = tree._replace(name=values["name"], aleph_id=values["aleph_id"], issn=values["issn"],
                                   path_array=path_array, sub_trees=sub_trees,
                                   sub_publications=list_field(tree, "sub_publications"))
        values.update(path=tree_path(path_array), path_array=canonical_json(path_array),
                      sub_trees=canonical_json(sub_trees), sub_publications=canonical_json(normalised.sub_publications),
                      tree=canonical_json(normalised))
        earlier = self.catalog.find("trees", {"path": values["path"]})
        if earlier:
            self.catalog.update("trees", earlier[0]["id"], values)
        else:
            self.catalog.insert("trees", values)
        return normalised

    # -- search ------------------------------------------------------------------------------------
    def search(self, query: Any, light: bool) -> list[Any]:
        """Every stored record of the query's kind whose fields equal each non-null field of the query."""
        if isinstance(query, Publication):
            return self._search_publications(query, light)
        if isinstance(query, Archive):
            return self._search(query, "archives", self._archive_conditions(query),
                                lambda row: self._archive(row, light))
        if isinstance(query, Tree):
            return self._search(query, "trees", self._tree_conditions(query),
                                lambda row: deserialize(row["tree"], TREE_REGISTRY))
        raise ValueError(f"SearchRequest.query is a {type(query).__name__}; expected a Publication, Archive or Tree "
                         f"with the fields to match (null = any)")

    def _search(self, query: Any, table: str, conditions: dict[str, Any], build: Callable[[Any], Any],
                keep: Callable[[Any], bool] = lambda record: True) -> list[Any]:
        limit = self.options.max_results
        rows = self.catalog.find(table, conditions, limit=limit + 1)
        if len(rows) > limit:
            raise TooManyResults(f"the {type(query).__name__} query matches more than max_results = {limit} "
                                 f"records; give more fields, or raise max_results in the storage [[[options]]]")
        return [record for record in map(build, rows) if keep(record)]

    def _search_publications(self, query: Any, light: bool) -> list[Any]:
        conditions = {key: value for key, value in fields_of(query, PUBLICATION_TEXT, PUBLICATION_FLAGS).items()
                      if value is not None}
        data = decoded_data(query)
        if data is not None:
            conditions["sha256"] = digest_of(data)
        if query.file_pointer is not None:
            conditions["file_path"] = self.relative_pointer(str(query.file_pointer))
        return self._search(query, "publications", conditions, lambda row: self._publication(row, light),
                            keep=lambda record: query.url is None or record.url == query.url)

    def _archive_conditions(self, query: Any) -> dict[str, Any]:
        conditions = {key: value for key, value in fields_of(query, ARCHIVE_TEXT).items() if value is not None}
        data = decoded_data(query)
        if data is not None:
            conditions["sha256"] = digest_of(data)
        if query.dir_pointer is not None:
            conditions["dir_path"] = self.relative_pointer(str(query.dir_pointer))
        return conditions

    def _tree_conditions(self, query: Any) -> dict[str, Any]:
        conditions = {key: value for key, value in fields_of(query, TREE_TEXT, TREE_FLAGS).items() if value is not None}
        if query.path_array is not None:
            conditions["path"] = tree_path(checked_path_array(query.path_array))
        for field in ("sub_trees", "sub_publications"):
            if getattr(query, field) is not None:
                conditions[field] = canonical_json(list_field(query, field))
        return conditions

    # -- files -------------------------------------------------------------------------------------
    def _read_bytes(self, relative: str, what: str) -> bytes:
        path = self.root / relative
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise StorageError(f"the file of {what} is missing: {path}; restore it from a backup or save the "
                               f"record again") from None

    def _read(self, relative: str | None, what: str) -> str | None:
        if relative is None:
            return None
        return base64.b64encode(self._read_bytes(relative, what)).decode("ascii")

    def _remove_unreferenced(self, table: str, column: str, relative: str | None) -> None:
        if relative is not None and not self.catalog.is_referenced(table, column, relative):
            remove_quietly(self.root / relative)
