"""A results ledger: one CSV row per finished unit of work, safe to share between processes.

Benchmarks append a row as soon as a cell (a task x method x seed, an image method x seed x
protocol, ...) is scored, and a rerun skips the keys already present, so an interrupted run
resumes where it stopped. Each append holds an exclusive lock on ``<file>.lock``
(``fcntl.flock`` where available) across a read-modify-write and replaces the file atomically
(temp file + ``os.replace``), so several processes on one machine can share a ledger without
losing rows and a reader never sees half a file.

The ledger is generic: its columns and key columns are given by the caller. Used by
``molssl benchmark`` (:mod:`molssl.benchmark.ledger`) and ``benchmarks/imagessl.py``.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from molssl.contrastive.io.atomic import create_temp_beside
from molssl.contrastive.io.runlock import open_lock_file

logger = logging.getLogger(__name__)


class ResultsLedger:
    """Append-only CSV of result rows with fixed columns.

    Args:
        path: The CSV file (created on the first append, with its parent folders).
        columns: Column order; every row is written with exactly these columns.
        key_columns: Columns that identify a unit of work (a subset of ``columns``).

    Raises:
        ValueError: If a key column is not among ``columns`` or a column name repeats.
    """

    def __init__(
        self, path: str | os.PathLike[str], columns: Sequence[str], key_columns: Sequence[str]
    ) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.key_columns = tuple(key_columns)
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"ledger columns repeat: {self.columns}")
        stray = [c for c in self.key_columns if c not in self.columns]
        if stray:
            raise ValueError(f"key columns {stray} are not ledger columns {self.columns}")

    @property
    def lock_path(self) -> Path:
        """The lock file beside the ledger (``results.csv.lock``)."""
        return self.path.with_name(self.path.name + ".lock")

    def rows(self) -> list[dict[str, str]]:
        """Every row as ``{column: text}`` (empty cells ``""``; missing columns filled with
        ``""``, columns the ledger does not know dropped; a torn row, with fewer cells than the
        header, is left out, logged, and gone with the next write). Empty list when there is no
        file."""
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        whole = [row for row in rows if None not in row.values()]
        if len(whole) < len(rows):  # fewer cells than the header: cut off while written
            logger.warning(
                "%s: dropping %d torn row(s) with fewer cells than the header; their "
                "units of work run again",
                self.path,
                len(rows) - len(whole),
            )
        return [{c: row.get(c) or "" for c in self.columns} for row in whole]

    def keys(self, rows: Sequence[Mapping[str, Any]] | None = None) -> set[tuple[str, ...]]:
        """Key tuples (as text) of ``rows`` (default: every row in the file)."""
        rows = self.rows() if rows is None else rows
        return {tuple(str(row.get(c, "")) for c in self.key_columns) for row in rows}

    def has(self, *key: Any) -> bool:
        """Whether a row with these key values (compared as text) is in the file."""
        if len(key) != len(self.key_columns):
            raise ValueError(f"give {len(self.key_columns)} key values {self.key_columns}")
        return tuple(str(k) for k in key) in self.keys()

    def append(self, row: Mapping[str, Any]) -> list[dict[str, str]]:
        """Append one row under the lock and rewrite the file atomically.

        Args:
            row: Values by column name; missing columns are left empty, ``None`` is written as
                an empty cell.

        Returns:
            Every row of the ledger after the append.

        Raises:
            KeyError: If ``row`` has a key that is not a column.
        """
        unknown = sorted(set(row) - set(self.columns))
        if unknown:
            raise KeyError(f"unknown {self.path.name} column(s) {unknown}; valid: {self.columns}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.lock_path):
            rows = self.rows()
            rows.append({c: "" if row.get(c) is None else str(row[c]) for c in self.columns})
            self._write(rows)
        return rows

    def rewrite(self, change: Callable[[dict[str, str]], dict[str, str] | None]) -> int:
        """Change rows in place under the lock (to upgrade a ledger written by an older version).

        Args:
            change: Called with every row (as text); returns the replacement row, or ``None``
                to keep it.

        Returns:
            How many rows changed (the file is rewritten, atomically, only when some did).
        """
        if not self.path.is_file():
            return 0
        with locked(self.lock_path):
            rows, changed = [], 0
            for row in self.rows():
                new = change(dict(row))
                if new is not None and new != row:
                    changed += 1
                    row = {c: "" if new.get(c) is None else str(new[c]) for c in self.columns}
                rows.append(row)
            if changed:
                self._write(rows)
        return changed

    def relabel(self, key: Sequence[Any], **values: Any) -> int:
        """Set ``values`` on the rows whose key columns equal ``key`` (compared as text), e.g. a
        new ``config_hash`` for rows an older version identified otherwise; returns how many."""
        want = tuple(str(k) for k in key)

        def change(row: dict[str, str]) -> dict[str, str] | None:
            mine = tuple(row[c] for c in self.key_columns) == want
            return {**row, **values} if mine else None

        return self.rewrite(change)

    def _write(self, rows: list[dict[str, str]]) -> None:
        fd, tmp = create_temp_beside(self.path)  # the user's file mode, not mkstemp's 0600
        try:
            with os.fdopen(fd, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(self.columns))
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def locked(
    lock_path: str | os.PathLike[str], on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (a no-op where ``fcntl`` is missing);
    ``on_wait`` is called once if another process holds it and this one has to wait."""
    try:
        import fcntl
    except ImportError:  # Windows: single-process use only
        yield
        return
    with os.fdopen(open_lock_file(lock_path), "r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
