"""The Aleph file exchange as one object: submit requests, collect Aleph's results, hand them out."""

from __future__ import annotations

import logging
import os
import shutil
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from daemons.aleph_link_export.files import LinkResult, ResultFileError, incoming_files, read_results, write_requests
from daemons.aleph_link_export.requests import PendingLink
from daemons.aleph_link_export.store import LinkStore
from daemons.common import locks


class ExchangeFolderError(OSError):
    """A folder of the exchange cannot be created or used; the text names the option and the fix."""


@dataclass
class LinkExchange:
    """`outgoing_dir` gets the pending requests, `incoming_dir` brings results; `data_dir` keeps the state."""

    outgoing_dir: Path
    incoming_dir: Path
    data_dir: Path
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("edeposit.aleph_link_export"))

    def __post_init__(self) -> None:
        for option, directory in (("outgoing_dir", self.outgoing_dir), ("incoming_dir", self.incoming_dir),
                                  ("data_dir", self.data_dir)):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ExchangeFolderError(
                    f"{option} {directory}: cannot create it ({exc.strerror or exc}); create it and give the daemon's "
                    f"user write access, or point {option} elsewhere"
                ) from exc
        self.store = LinkStore(self.data_dir / "aleph_link_export.sqlite")
        self.rejected_dir = self.data_dir / "rejected"

    def _exclusive(self) -> AbstractContextManager[None]:
        """One exchange at a time, also between worker processes of the same daemon."""
        return locks.exclusive(self.data_dir / "exchange.lock")

    def submit(self, link: PendingLink) -> list[LinkResult]:
        """Queue a request for Aleph, then collect: the results waiting now (possibly none)."""
        with self._exclusive():
            self.store.add_pending(link)
            self.log.info("request session_id=%s (doc_number %s) queued for Aleph", link.session_id, link.doc_number)
            return self._collect_and_take()

    def status(self) -> list[LinkResult]:
        """Collect Aleph's new results and hand out every undelivered one."""
        with self._exclusive():
            return self._collect_and_take()

    def refresh(self) -> None:
        """Rewrite the outgoing document from the database (at start: a lost or stale file is replaced)."""
        with self._exclusive():
            write_requests(self.outgoing_dir, self.store.pending())

    def problems(self) -> str | None:
        """What keeps the exchange from working (a folder that cannot be written or read), or None."""
        for option, directory, mode in (("outgoing_dir", self.outgoing_dir, os.W_OK | os.X_OK),
                                        ("incoming_dir", self.incoming_dir, os.R_OK | os.W_OK | os.X_OK)):
            if not os.access(directory, mode):
                return f"{option} {directory} is not writable by this user: fix its permissions or the option"
        return None

    def pending(self) -> list[PendingLink]:
        return self.store.pending()

    def _collect_and_take(self) -> list[LinkResult]:
        problems = [problem for path in incoming_files(self.incoming_dir) if (problem := self._collect_file(path))]
        write_requests(self.outgoing_dir, self.store.pending())
        results = self.store.take_results()
        if problems and not results:
            raise ResultFileError("\n".join(problems))
        return results

    def _collect_file(self, path: Path) -> str | None:
        """Take one result file into the store and remove it; a bad file is moved aside and described."""
        try:
            result_file = read_results(path)
        except (ResultFileError, OSError) as exc:
            return self._reject(path, str(exc))
        if not self.store.is_collected(result_file.digest):
            unknown = self.store.collect(result_file)
            if unknown:
                self.log.warning("%s: results for session_id(s) %s that no pending request has; delivered anyway",
                                 path.name, ", ".join(unknown))
            self.log.info("%s: %d result(s) collected", path.name, len(result_file.results))
        path.unlink(missing_ok=True)
        return None

    def _reject(self, path: Path, reason: str) -> str:
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        target = self.rejected_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{path.name}"
        try:
            shutil.move(path, target)  # may cross file systems
        except OSError:
            target = path  # cannot move it: it stays and is reported again next time
        problem = f"{reason}; the file was moved to {target} (fix it and put it back into {self.incoming_dir})"
        self.log.error("bad result file: %s", problem)
        return problem
