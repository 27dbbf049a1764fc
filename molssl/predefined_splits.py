"""Predefined (user-given) splits: a column of the task's CSV or a chemprop-style JSON file.

A user with a temporal or project split, or a benchmark shipped with its own train/test files,
gives the split instead of having the table re-split:

- ``split="column:NAME"`` (``--split column:NAME``): column ``NAME`` of the CSV holds ``train``,
  ``valid`` or ``test`` per row (case-insensitive, surrounding whitespace ignored; ``val`` is
  accepted for ``valid`` as in chemprop). Every row needs one of them.
- ``split_file=PATH`` (``--split-file PATH``): chemprop v2's ``--splits-file`` format, a JSON
  object ``{"train": [...], "valid": [...], "test": [...]}`` (``"val"`` for ``"valid"``) or a
  list holding exactly one such object. A value is a list of 0-based row indices or a string
  of indices and inclusive ranges (``"0-99,120"``). Rows listed in no set are not used.

Rows are the data rows of the file, 0-based, header excluded, in the order the CSV reader
returns them (blank lines skipped). A row whose SMILES cannot be featurized is reported and
dropped from the set it was in. Without validation rows (only ``train`` and ``test``), the
validation set is carved out of the training rows by a splitter (:func:`carve_valid`).

The split's identity is :func:`molssl.splits.split_sha256` of the index arrays actually used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from molssl.contrastive.config import ConfigError, did_you_mean

COLUMN_PREFIX = "column:"
SET_NAMES = ("train", "valid", "test")
_SET_OF = {"train": 0, "valid": 1, "val": 1, "test": 2}
_SPELLINGS = ("train", "valid", "val", "test")


class InvalidSplitError(ConfigError):
    """A predefined split is malformed (unknown set name, repeated or out-of-range row, empty
    set, unreadable file); the message names the file or column, the offending value and the fix."""


@dataclass(frozen=True)
class PredefinedSplit:
    """A user-given split of a file's rows.

    Attributes:
        parts: ``(train, valid, test)`` file rows, ``int64``, ascending; ``valid`` is empty when
            the user gave none (it is then carved out of ``train``).
        where: The split's origin for messages (``"tasks.csv column 'fold'"``).
        source: JSON-ready description (``{"kind": "column", "column": "fold", "file": ...}``).
    """

    parts: tuple[np.ndarray, np.ndarray, np.ndarray]
    where: str
    source: dict[str, Any]


def is_column_split(split: str | None) -> bool:
    """Whether ``split`` names a CSV column (``"column:NAME"``)."""
    return bool(split) and split.startswith(COLUMN_PREFIX)  # type: ignore[union-attr]


def column_name(split: str, where: str = "split") -> str:
    """``NAME`` of ``"column:NAME"``.

    Raises:
        InvalidSplitError: The name is empty.
    """
    name = split[len(COLUMN_PREFIX) :].strip()
    if not name:
        raise InvalidSplitError(
            f"{where}: {split!r} names no column; write column:NAME, e.g. --split column:split"
        )
    return name


def _set_index(value: Any, where: str, what: str) -> int:
    text = str(value).strip().lower() if value is not None else ""
    if text in _SET_OF:
        return _SET_OF[text]
    shown = repr(value) if text else "an empty value"
    raise InvalidSplitError(
        f"{where}: {what} has {shown}{did_you_mean(text, _SPELLINGS) if text else ''}; "
        "use train, valid (or val) or test (case-insensitive)"
    )


def split_from_values(values: Sequence[Any], where: str, source: dict[str, Any]) -> PredefinedSplit:
    """A split from one set name per row (the column form).

    Args:
        values: ``train`` / ``valid`` / ``test`` per row (case-insensitive, stripped).
        where: Origin for messages (``"tasks.csv column 'fold'"``).
        source: JSON-ready description recorded with the run.

    Raises:
        InvalidSplitError: A value that is not a set name (empty included).
    """
    sets = np.fromiter(
        (_set_index(v, where, f"row {i}") for i, v in enumerate(values)),
        dtype=np.int64,
        count=len(values),
    )
    parts = tuple(np.flatnonzero(sets == k).astype(np.int64) for k in range(3))
    return PredefinedSplit(parts, where, source)  # type: ignore[arg-type]


def check_nonempty(parts: Sequence[np.ndarray], where: str, after: str = "") -> None:
    """Refuse a split without training or test rows (validation may be empty: it is carved).

    Raises:
        InvalidSplitError: ``train`` or ``test`` is empty.
    """
    for k in (0, 2):
        if len(parts[k]) == 0:
            raise InvalidSplitError(
                f"{where}: the {SET_NAMES[k]} set is empty{after}; mark at least one row "
                f"{SET_NAMES[k]}"
            )


def _parse_indices(value: Any, where: str, key: str) -> list[int]:
    """Row indices of one set: a list of ints or chemprop's ``"0-2,4"`` string."""
    if isinstance(value, str):
        out: list[int] = []
        for chunk in (c.strip() for c in value.split(",")):
            if not chunk:
                continue
            start, dash, end = chunk.partition("-")
            try:
                lo = int(start)
                hi = int(end) if dash else lo
            except ValueError:
                raise InvalidSplitError(
                    f"{where}: {key!r} has {chunk!r}, not a row or range; write rows as a list "
                    '[0, 1, 5] or a string "0-4,9"'
                ) from None
            if hi < lo:
                raise InvalidSplitError(
                    f"{where}: {key!r} has the empty range {chunk!r}; write "
                    "ranges low-high, e.g. 0-4"
                )
            out.extend(range(lo, hi + 1))
        return out
    if not isinstance(value, list):
        raise InvalidSplitError(
            f"{where}: {key!r} must be a list of row indices or a string "
            f'such as "0-4,9", got {type(value).__name__}'
        )
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise InvalidSplitError(
                f"{where}: {key!r} has {item!r}, not a row index; rows are "
                "0-based integers (header excluded)"
            )
    return list(value)


def split_from_mapping(
    sets: Mapping[str, Any], where: str, source: dict[str, Any]
) -> PredefinedSplit:
    """A split from ``{"train": rows, "valid": rows, "test": rows}`` (the file form).

    Args:
        sets: Set name (``train``, ``valid`` or ``val``, ``test``) to row indices.
        where: Origin for messages.
        source: JSON-ready description recorded with the run.

    Raises:
        InvalidSplitError: An unknown key, ``valid`` and ``val`` both, a non-integer or negative
            row, a row in two sets or twice in one.
    """
    parts: list[list[int]] = [[], [], []]
    given: dict[int, str] = {}
    for key, value in sets.items():
        if key not in _SET_OF:
            raise InvalidSplitError(
                f"{where}: unknown set {key!r}{did_you_mean(key, _SPELLINGS)}; "
                "the keys are train, valid (or val) and test"
            )
        k = _SET_OF[key]
        if k in given:
            raise InvalidSplitError(f"{where}: both {given[k]!r} and {key!r} are given; keep one")
        given[k] = key
        parts[k] = _parse_indices(value, where, key)
    seen: dict[int, str] = {}
    for k, rows in enumerate(parts):
        for row in rows:
            if row < 0:
                raise InvalidSplitError(
                    f"{where}: {given[k]!r} has row {row}; rows are 0-based "
                    "(the first data row is 0)"
                )
            if row in seen:
                again = "twice in" if seen[row] == given[k] else f"in {seen[row]!r} and in"
                raise InvalidSplitError(
                    f"{where}: row {row} is {again} {given[k]!r}; a row belongs to one set, once"
                )
            seen[row] = given[k]
    arrays = tuple(np.sort(np.asarray(p, dtype=np.int64)) for p in parts)
    return PredefinedSplit(arrays, where, source)  # type: ignore[arg-type]


def load_split_file(path: str | Path) -> PredefinedSplit:
    """Read a split file (see the module docstring for the format).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        InvalidSplitError: Not JSON, not one object of sets (a list of several splits
            included), no ``train`` or no ``test`` rows, or see :func:`split_from_mapping`.
    """
    from molssl.contrastive.io.digest import file_sha256

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"split file {path} does not exist; give the JSON file of train/valid/test row indices"
        )
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidSplitError(
            f"{path}: not a JSON split file ({err}); write "
            '{"train": [0, 1], "valid": [2], "test": [3]}'
        ) from None
    if isinstance(data, list):
        if len(data) != 1:
            raise InvalidSplitError(
                f"{path}: holds a list of {len(data)} splits; molssl trains on one: give one "
                "object (or a one-element list), one file per split"
            )
        data = data[0]
    if not isinstance(data, dict):
        raise InvalidSplitError(
            f"{path}: expected an object with train, valid and test row "
            f"lists, got {type(data).__name__}"
        )
    source = {"kind": "file", "file": path.name, "file_sha256": file_sha256(path)}
    split = split_from_mapping(data, str(path), source)
    check_nonempty(split.parts, split.where)
    return split


def read_split_column(csv: str | Path, column: str) -> PredefinedSplit:
    """The split given by ``column`` of a task CSV (rows read as the task reader reads them).

    Raises:
        InvalidSplitError: The column is missing (the columns are listed), no ``train`` or no
            ``test`` rows, or see :func:`split_from_values`.
    """
    import pandas as pd

    path = Path(csv)
    columns = list(pd.read_csv(path, nrows=0).columns)
    where = f"{path} column {column!r}"
    if column not in columns:
        raise InvalidSplitError(
            f"{path}: no split column {column!r}{did_you_mean(column, columns)}; columns: {columns}"
        )
    frame = pd.read_csv(
        path, usecols=[column], dtype={column: str}, keep_default_na=False, skip_blank_lines=True
    )
    source = {"kind": "column", "column": column, "file": path.name}
    split = split_from_values(frame[column].tolist(), where, source)
    check_nonempty(split.parts, where)
    return split


def check_rows(split: PredefinedSplit, num_rows: int) -> None:
    """Refuse rows past the end of a file of ``num_rows`` data rows.

    Raises:
        InvalidSplitError: A row ``>= num_rows``.
    """
    for k, rows in enumerate(split.parts):
        if len(rows) and rows[-1] >= num_rows:
            raise InvalidSplitError(
                f"{split.where}: {SET_NAMES[k]} row {int(rows[-1])} is past the end of the data "
                f"({num_rows} rows, 0 to {num_rows - 1}; header excluded); fix the index"
            )


def carve_valid(
    train_smiles: Sequence[str], splitter: str, sizes: Sequence[float], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split training molecules into train and validation (a train/test-only split).

    The validation share of the training rows is ``valid / (train + valid)`` of ``sizes``
    (1/9 for the default 0.8/0.1/0.1, so validation is as large as it would be in an 80/10/10
    split of the whole table were the test set 10%). Rows the splitter leaves over stay in
    training.

    Args:
        train_smiles: SMILES of the training molecules.
        splitter: Registered splitter (:data:`molssl.splits.SPLITTERS`).
        sizes: The run's split fractions.
        seed: Seed of a seeded splitter.

    Returns:
        ``(train, valid)`` positions into ``train_smiles``, ascending.

    Raises:
        InvalidSplitError: The validation share is 0, or the carved validation set is empty.
    """
    from molssl.splits import get_splitter

    frac_train, frac_valid = float(sizes[0]), float(sizes[1])
    if frac_valid <= 0 or frac_train <= 0:
        raise InvalidSplitError(
            f"split_sizes {tuple(sizes)} leave no validation share to carve "
            "out of the training rows; give valid rows or sizes like "
            "(0.8, 0.1, 0.1)"
        )
    share = frac_valid / (frac_train + frac_valid)
    train, valid, rest = get_splitter(splitter)(list(train_smiles), (1.0 - share, share, 0.0), seed)
    if len(valid) == 0:
        raise InvalidSplitError(
            f"the {splitter} splitter left no validation rows in the "
            f"{len(train_smiles)} training molecules; mark some rows valid "
            "or use --valid-splitter random"
        )
    return np.sort(np.concatenate([train, rest])).astype(np.int64), np.sort(valid).astype(np.int64)


def rows_split(split: Any, num_rows: int, where: str = "split") -> PredefinedSplit:
    """A split of ``num_rows`` in-memory rows (the estimators' ``fit(..., split=)``).

    Args:
        split: One set name per row (as a CSV column; a list, array or Series) or a mapping of
            set names to row positions (as a split file).
        num_rows: Rows of the data the split refers to.
        where: Name of the argument for messages.

    Raises:
        InvalidSplitError: A malformed split (see :func:`split_from_values` /
            :func:`split_from_mapping`), a per-row split of another length, a row past the end.
    """
    if isinstance(split, Mapping):
        given = split_from_mapping(split, where, {"kind": "rows"})
    else:
        values = list(split.tolist() if hasattr(split, "tolist") else split)
        if len(values) != num_rows:
            raise InvalidSplitError(
                f"{where}: {len(values)} set names for {num_rows} rows; give "
                "one of train, valid or test per row"
            )
        given = split_from_values(values, where, {"kind": "rows"})
    check_rows(given, num_rows)
    return given
