"""``results.csv``: the tidy ledger of benchmark cells, rewritten atomically after every cell.

One row per finished or failed ``(task, method, seed)`` cell. A rerun skips cells that have a
row with ``status == "ok"`` and the same ``config_hash`` (so changing a setting reruns them);
failed cells are tried again and the newest row of a cell is the one that counts.

Appends hold an exclusive lock on ``results.csv.lock`` (``fcntl.flock`` where available) across the
read-modify-write, so several benchmark processes on one machine (say one per seed) can share an
output folder without losing rows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS: tuple[str, ...] = (
    "task", "method", "seed", "split", "metric", "value", "valid_value", "epochs", "best_epoch",
    "seconds", "n_train", "n_valid", "n_test", "n_invalid", "per_target", "versions",
    "config_hash", "status", "error", "finished_at",
)  # fmt: skip
"""Column order of ``results.csv``."""

CellKey = tuple[str, str, int, str]


def read_ledger(path: str | Path) -> pd.DataFrame:
    """Read ``results.csv`` (an empty frame with :data:`COLUMNS` when the file is absent)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    frame = pd.read_csv(path, keep_default_na=True)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    return frame[list(COLUMNS)]


def append_row(path: str | Path, row: Mapping[str, Any]) -> pd.DataFrame:
    """Append one cell and rewrite the file atomically (temp file + ``os.replace``).

    Args:
        path: ``results.csv``.
        row: Values by column name; unknown keys are an error, missing ones are left empty.

    Returns:
        The whole ledger after the append.

    Raises:
        KeyError: If ``row`` has a key that is not in :data:`COLUMNS`.
    """
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise KeyError(f"unknown results.csv column(s) {sorted(unknown)}; valid: {COLUMNS}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        return _append_locked(path, row)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (a no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: single-process use only
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append_locked(path: Path, row: Mapping[str, Any]) -> pd.DataFrame:
    frame = read_ledger(path)
    new = pd.DataFrame([{c: row.get(c) for c in COLUMNS}])
    frame = new if frame.empty else pd.concat([frame, new], ignore_index=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            frame.to_csv(handle, index=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return frame


def finished_cells(frame: pd.DataFrame) -> set[CellKey]:
    """``(task, method, seed, config_hash)`` of every cell with ``status == "ok"``."""
    done = frame[frame["status"] == "ok"]
    return {
        (str(r.task), str(r.method), int(r.seed), str(r.config_hash))
        for r in done.itertuples(index=False)
    }


def latest_ok(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest ``ok`` row of every ``(task, method, seed)`` cell."""
    done = frame[frame["status"] == "ok"].copy()
    done["value"] = pd.to_numeric(done["value"], errors="coerce")
    done["seed"] = pd.to_numeric(done["seed"], errors="coerce").astype("Int64")
    return done.drop_duplicates(["task", "method", "seed"], keep="last").reset_index(drop=True)
