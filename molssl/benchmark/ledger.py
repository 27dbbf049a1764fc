"""``results.csv``: the tidy ledger of benchmark cells, rewritten atomically after every cell.

One row per finished or failed ``(task, method, seed)`` cell. A rerun skips cells that have a
row with ``status == "ok"`` and the same ``config_hash`` (so changing a setting reruns them);
failed cells are tried again and the newest row of a cell is the one that counts.

Rows are appended through :class:`molssl.contrastive.io.ledger.ResultsLedger`, which holds an
exclusive lock on ``results.csv.lock`` across the read-modify-write, so several benchmark
processes on one machine (say one per seed) can share an output folder without losing rows.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from molssl.contrastive.io.ledger import ResultsLedger, locked

COLUMNS: tuple[str, ...] = (
    "task",
    "method",
    "seed",
    "split",
    "metric",
    "value",
    "value_last",
    "valid_value",
    "epochs",
    "best_epoch",
    "best_rule",
    "seconds",
    "n_train",
    "n_valid",
    "n_test",
    "n_invalid",
    "per_target",
    "extra_metrics",
    "versions",
    "config_hash",
    "status",
    "error",
    "finished_at",
)
"""Column order of ``results.csv``."""

KEY_COLUMNS: tuple[str, ...] = ("task", "method", "seed", "config_hash")
"""Columns that identify a cell's result (a changed setting changes ``config_hash``)."""

CellKey = tuple[str, str, int, str]


def read_ledger(path: str | Path) -> pd.DataFrame:
    """Read ``results.csv`` (an empty frame with :data:`COLUMNS` when the file is absent).

    A torn row (fewer cells than the header: the file was cut off while written) is left out,
    so its cell runs again, and the next append drops it from the file.
    """
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    frame = pd.read_csv(path, keep_default_na=True)
    with open(path, newline="") as handle:  # a torn row (cut off while written) is no result
        records = [r for r in csv.reader(handle) if r]
    torn = [i for i, r in enumerate(records[1:]) if len(r) < len(records[0])]
    if torn and len(records) - 1 == len(frame):
        frame = frame.drop(index=frame.index[torn]).reset_index(drop=True)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    return frame[list(COLUMNS)]


def results_ledger(path: str | Path) -> ResultsLedger:
    """The :class:`~molssl.contrastive.io.ledger.ResultsLedger` of a benchmark's ``results.csv``."""
    return ResultsLedger(path, COLUMNS, KEY_COLUMNS)


def append_row(path: str | Path, row: Mapping[str, Any]) -> pd.DataFrame:
    """Append one cell under the ledger's lock and rewrite the file atomically.

    Args:
        path: ``results.csv``.
        row: Values by column name; unknown keys are an error, missing ones are left empty.

    Returns:
        The whole ledger after the append.

    Raises:
        KeyError: If ``row`` has a key that is not in :data:`COLUMNS`.
    """
    results_ledger(path).append(row)
    return read_ledger(path)


def relabel_cells(path: str | Path, old: CellKey, config_hash: str) -> int:
    """Give the rows of cell ``old`` (any status) the new ``config_hash``, under the lock.

    How a ledger written before cell identities became portable is upgraded: the runner finds a
    cell finished under the path-based hash it computes for the same settings and relabels it
    instead of running it again. Returns the number of rows changed.
    """
    return results_ledger(path).relabel(old, config_hash=config_hash)


def ledger_lock(path: str | Path) -> contextlib.AbstractContextManager[None]:
    """The exclusive lock every append to ``results.csv`` holds (not re-entrant: do not append
    while holding it)."""
    return locked(results_ledger(path).lock_path)


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
