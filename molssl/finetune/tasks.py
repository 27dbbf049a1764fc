"""Benchmark tasks: load a table once, featurize it once, split it once, and cache all three.

A task is a registered MoleculeNet dataset or a user's CSV (:class:`TaskSource`). Preparing it
(:func:`prepare_task`) reads the table, optionally subsamples it (seeded, so every method and
seed sees the same molecules), featurizes every SMILES once with the given featurizer, and drops
the invalid rows *before* any split, reporting them. :func:`task_split` computes the one split
of a task that all of its targets, methods and seeds share: a splitter's, or a split the user
gave as a CSV column or a JSON file of row indices (:mod:`molssl.predefined_splits`; rows with
invalid SMILES are dropped from their set and reported, and validation rows are carved out of
train when none are given). :func:`resolve_split` adds its name, origin and SHA-256. Both are cached in memory for the
life of the process (:func:`clear_task_cache` empties the caches).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch_geometric.data import Data

from molssl.contrastive.config import ConfigError
from molssl.data import (
    TASK_TYPES,
    DataFormatError,
    DatasetSpec,
    MoleculeNetData,
    load_csv_task,
    load_dataset,
)
from molssl.featurize import GraphFeaturizer, SmilesFailure, featurize_many, parse_smiles
from molssl.splits import DEFAULT_SIZES, Split, get_splitter, split_sha256

logger = logging.getLogger(__name__)

SUBSAMPLE_SEED = 0
"""Seed of the row subsample of large datasets; fixed so that all runs share one subset."""


@dataclass(frozen=True)
class TaskSource:
    """Where a task's table comes from: a registered dataset or a user's CSV.

    Attributes:
        task: Registered dataset name or alias (``"bbbp"``); ``None`` when ``csv`` is given.
        csv: Path of a user CSV (plain or ``.gz``).
        smiles_col: SMILES column of ``csv``. Default ``"smiles"``.
        targets: Target columns of ``csv``; empty means every other column.
        task_type: ``"classification"`` or ``"regression"``; required with ``csv``.
        data_dir: Directory searched first for registered datasets.
        download: Whether a missing registered dataset may be downloaded.
        split_column: The CSV's column of predefined train/valid/test sets; never a target
            (also when ``targets`` is empty, meaning every other column).

    Raises:
        ConfigError: If neither or both of ``task`` and ``csv`` are given, or ``csv`` comes
            without a valid ``task_type`` (a ``ValueError``; the CLIs print it as one line).
    """

    task: str | None = None
    csv: str | None = None
    smiles_col: str = "smiles"
    targets: tuple[str, ...] = ()
    task_type: str | None = None
    data_dir: str | None = None
    download: bool = True
    split_column: str | None = None

    def __post_init__(self) -> None:
        if (self.task is None) == (self.csv is None):
            raise ConfigError(
                "give exactly one of task (a MoleculeNet name such as 'bbbp') and csv (a file); "
                f"got task={self.task!r}, csv={self.csv!r}"
            )
        if self.csv is not None and self.task_type not in TASK_TYPES:
            raise ConfigError(
                f"{self.csv}: a CSV task needs its task type (got {self.task_type!r}); pass "
                "--task-type classification (0/1 labels) or --task-type regression"
            )
        object.__setattr__(self, "targets", tuple(self.targets))

    @property
    def name(self) -> str:
        """Display name: the dataset name, or the CSV file name without extensions."""
        if self.csv is not None:
            return Path(self.csv).name.split(".")[0]
        from molssl.data import get_dataset_spec

        return get_dataset_spec(self.task).name

    def cache_key(self) -> str:
        """A string identifying the table (the CSV's resolved path and mtime included)."""
        if self.csv is None:
            return f"task:{self.task.lower()}:{self.data_dir}"
        path = Path(self.csv).resolve()
        mtime = path.stat().st_mtime_ns if path.exists() else 0
        key = [str(path), mtime, self.smiles_col, list(self.targets), self.task_type]
        if self.split_column is not None:
            key.append(self.split_column)
        return json.dumps(key, default=str)

    def load(self) -> MoleculeNetData:
        """Read the table (see :func:`molssl.data.load_dataset` / :func:`load_csv_task`).

        Raises:
            DataFormatError: Missing column, non-numeric label, or classification labels that
                are not 0/1.
            FileNotFoundError: The file does not exist (or cannot be downloaded).
        """
        if self.csv is None:
            return load_dataset(self.task, self.data_dir, download=self.download)
        targets = self.targets
        if not targets and self.split_column is not None:
            import pandas as pd

            header = pd.read_csv(self.csv, nrows=0).columns
            targets = tuple(c for c in header if c not in (self.smiles_col, self.split_column))
            if not targets:
                raise DataFormatError(
                    f"{self.csv}: no target columns besides the SMILES column "
                    f"{self.smiles_col!r} and the split column "
                    f"{self.split_column!r}; add a label column"
                )
        data = load_csv_task(self.csv, self.smiles_col, targets, self.task_type)  # type: ignore[arg-type]
        if self.task_type == "classification":
            labels = data.targets[~np.isnan(data.targets)]
            bad = np.setdiff1d(np.unique(labels), [0.0, 1.0])
            if bad.size:
                raise DataFormatError(
                    f"{self.csv}: classification labels must be 0 or 1 (blank = missing), found "
                    f"{bad[:5].tolist()}; use --task-type regression for continuous targets"
                )
        return data


@dataclass
class TaskData:
    """A featurized task: only the rows whose SMILES could be featurized.

    Attributes:
        name: Display name.
        spec: Dataset spec (metric, task type, default split).
        smiles: ``n`` valid SMILES.
        graphs: ``n`` graphs of the featurizer's scheme.
        targets: ``float32[n, T]`` labels, NaN where missing.
        target_names: ``T`` names.
        rows: ``int64[n]`` row of each molecule in the file.
        failures: The dropped rows with their reasons.
        featurizer: Config of the featurizer that built ``graphs``.
        num_rows: Rows in the file before subsampling.
        key: Cache key (source, featurizer, subsample size).
        path: The file the table was read from (``None`` when unknown).
        from_csv: Whether the table is a user's CSV (not a registered dataset).
    """

    name: str
    spec: DatasetSpec
    smiles: list[str]
    graphs: list[Data]
    targets: np.ndarray
    target_names: tuple[str, ...]
    rows: np.ndarray
    failures: list[SmilesFailure]
    featurizer: dict
    num_rows: int
    key: str = ""
    path: Path | None = None
    from_csv: bool = False

    def __len__(self) -> int:
        return len(self.smiles)


_TABLES: dict[str, MoleculeNetData] = {}
_TASKS: dict[str, TaskData] = {}
_SPLITS: dict[str, Split] = {}
_FINGERPRINTS: dict[str, np.ndarray] = {}


def clear_task_cache() -> None:
    """Forget every cached table, featurized task, split and fingerprint matrix."""
    for cache in (_TABLES, _TASKS, _SPLITS, _FINGERPRINTS):
        cache.clear()


def _subsample(n: int, max_molecules: int | None) -> np.ndarray:
    if max_molecules is None or max_molecules <= 0 or n <= max_molecules:
        return np.arange(n)
    rng = np.random.default_rng(SUBSAMPLE_SEED)
    return np.sort(rng.choice(n, size=max_molecules, replace=False))


def _task_key(source: TaskSource, featurizer: GraphFeaturizer, max_molecules: int | None) -> str:
    return json.dumps(
        [source.cache_key(), featurizer.to_dict(), max_molecules], sort_keys=True, default=str
    )


def prepare_task(
    source: TaskSource, featurizer: GraphFeaturizer, max_molecules: int | None = None
) -> TaskData:
    """Load, subsample and featurize a task once per process (cached).

    Args:
        source: Where the table comes from.
        featurizer: The featurizer of the encoder that will read the graphs (a checkpoint's
            own featurizer, with its hydrogen policy).
        max_molecules: Subsample larger tables to this many rows (seeded with
            :data:`SUBSAMPLE_SEED`); ``None`` or ``0`` keeps every row.

    Returns:
        The :class:`TaskData` (shared, do not mutate).

    Raises:
        DataFormatError: If no SMILES of the table can be featurized, or see
            :meth:`TaskSource.load`.
    """
    key = _task_key(source, featurizer, max_molecules)
    if key in _TASKS:
        return _TASKS[key]
    table = _TABLES.get(source.cache_key())
    if table is None:
        table = _TABLES.setdefault(source.cache_key(), source.load())
    keep = _subsample(len(table), max_molecules)
    if len(keep) < len(table):
        logger.info("%s: subsampled %d of %d molecules", table.spec.name, len(keep), len(table))
    result = featurize_many([table.smiles[i] for i in keep], featurizer)
    if not result.graphs:
        first = result.failures[0] if result.failures else None
        raise DataFormatError(
            f"{table.path}: none of the {len(keep)} SMILES in column "
            f"{table.spec.smiles_column!r} could be parsed"
            + (f" (first: {first.smiles!r}: {first.reason})" if first else "")
            + "; check --smiles-col names the SMILES column"
        )
    index = np.asarray(result.indices, dtype=np.int64)
    failures = [f._replace(index=int(keep[f.index])) for f in result.failures]
    if failures:
        logger.warning(
            "%s: dropped %d of %d molecules with invalid SMILES before splitting (rows %s)",
            table.spec.name,
            len(failures),
            len(keep),
            [f.index for f in failures[:10]],
        )
    task = TaskData(
        name=source.name,
        spec=table.spec,
        smiles=[table.smiles[keep[i]] for i in index],
        graphs=result.graphs,
        targets=table.targets[keep[index]],
        target_names=table.target_names,
        rows=keep[index],
        failures=failures,
        featurizer=featurizer.to_dict(),
        num_rows=len(table),
        key=key,
        path=table.path,
        from_csv=source.csv is not None,
    )
    _TASKS[key] = task
    return task


@dataclass(frozen=True)
class TaskSplit:
    """The split of a task as used, with where it came from.

    Attributes:
        parts: ``(train_idx, valid_idx, test_idx)`` into the task's molecules.
        name: ``"scaffold"``, ``"random_scaffold"``, ``"random"``, ``"column:NAME"`` or
            ``"file:NAME.json"``.
        source: JSON-ready origin: ``{"kind": "splitter", ...}``, ``{"kind": "column",
            "column", "file"}`` or ``{"kind": "file", "file", "file_sha256"}``; a predefined
            split without validation rows adds ``"valid_from_train"`` (the splitter that carved
            them) and one with unfeaturizable rows ``"dropped_rows"`` (file rows per set).
        sha256: :func:`molssl.splits.split_sha256` of ``parts`` (file rows).
    """

    parts: Split
    name: str
    source: dict
    sha256: str

    @property
    def predefined(self) -> bool:
        """Whether the user gave the split (a column or a file)."""
        return self.source.get("kind") != "splitter"


def task_split(
    task: TaskData,
    split: str | None = None,
    sizes: tuple[float, float, float] = DEFAULT_SIZES,
    seed: int = 0,
    *,
    split_file: str | None = None,
    valid_splitter: str | None = None,
) -> Split:
    """The split of a task shared by all its targets, methods and run seeds (cached).

    Args:
        task: A prepared task.
        split: Splitter name (``"scaffold"``, ``"random_scaffold"``, ``"random"``) or a CSV
            column holding each row's set (``"column:NAME"``, see
            :mod:`molssl.predefined_splits`); ``None`` uses the dataset's default (scaffold;
            random for QM9).
        sizes: Train/valid/test fractions. Default ``(0.8, 0.1, 0.1)``.
        seed: Seed of the seeded splitters (ignored by ``"scaffold"``). Default 0.
        split_file: A JSON file of train/valid/test row indices instead of ``split``.
        valid_splitter: Splitter that carves validation rows out of the training rows of a
            predefined split without any (``None``: scaffold).

    Returns:
        ``(train_idx, valid_idx, test_idx)`` into the task's molecules.

    Raises:
        ValueError: Unknown splitter, bad sizes, or an empty train/valid/test part.
        InvalidSplitError: A malformed predefined split (a ``ConfigError``).
    """
    return resolve_split(
        task, split, sizes, seed, split_file=split_file, valid_splitter=valid_splitter
    ).parts


def resolve_split(
    task: TaskData,
    split: str | None = None,
    sizes: tuple[float, float, float] = DEFAULT_SIZES,
    seed: int = 0,
    *,
    split_file: str | None = None,
    valid_splitter: str | None = None,
) -> TaskSplit:
    """:func:`task_split` with the split's name, origin and SHA-256 (cached)."""
    from molssl.predefined_splits import is_column_split

    predefined = split_file is not None or is_column_split(split)
    name = split or task.spec.default_split
    if split_file is not None:
        name = f"file:{Path(split_file).name}"
    file_key = _file_key(split_file) if split_file else None
    key = json.dumps(
        [
            task.key or task.name,
            len(task),
            name,
            list(sizes),
            seed,
            file_key,
            valid_splitter if predefined else None,
        ],
        default=str,
    )
    if key not in _SPLITS:
        if predefined:
            _SPLITS[key] = _predefined_split(
                task, name, split, split_file, sizes, seed, valid_splitter or "scaffold"
            )
        else:
            parts = get_splitter(name)(task.smiles, sizes, seed)
            if any(len(p) == 0 for p in parts):
                raise ConfigError(
                    f"{task.name}: the {name} split of {len(task)} molecules leaves a part empty "
                    f"(train/valid/test sizes {[len(p) for p in parts]}); use more molecules, "
                    "other split sizes (--set split_sizes=...), or give your own split "
                    "(--split column:NAME or --split-file FILE)"
                )
            source = {"kind": "splitter", "splitter": name, "sizes": list(sizes), "seed": seed}
            _SPLITS[key] = TaskSplit(parts, name, source, split_sha256(task.rows, parts))
    return _SPLITS[key]


def _file_key(path: str) -> list:
    file = Path(path)
    stat = file.stat() if file.is_file() else None
    return [str(file.resolve()), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0]


def _predefined_split(
    task: TaskData,
    name: str,
    split: str | None,
    split_file: str | None,
    sizes: tuple[float, float, float],
    seed: int,
    valid_splitter: str,
) -> TaskSplit:
    """Map a user's split of file rows onto the task's molecules (see
    :mod:`molssl.predefined_splits`)."""
    from molssl.predefined_splits import (
        InvalidSplitError,
        carve_valid,
        check_nonempty,
        check_rows,
        column_name,
        load_split_file,
        read_split_column,
    )

    if split_file is not None:
        given = load_split_file(split_file)
    else:
        assert split is not None
        if not task.from_csv or task.path is None:
            raise InvalidSplitError(
                f"{task.name}: a split column needs a CSV task (--csv FILE); "
                "give a registered dataset's split as --split-file"
            )
        given = read_split_column(task.path, column_name(split, str(task.path)))
    check_rows(given, task.num_rows)
    set_of_row = np.full(task.num_rows, -1, dtype=np.int64)
    for k, rows in enumerate(given.parts):
        set_of_row[rows] = k
    molecule_sets = set_of_row[task.rows]
    parts = [np.flatnonzero(molecule_sets == k).astype(np.int64) for k in range(3)]
    source = dict(given.source)
    dropped = {}
    for k, set_name in enumerate(("train", "valid", "test")):
        lost = sorted(f.index for f in task.failures if set_of_row[f.index] == k)
        if lost:
            dropped[set_name] = lost
    if dropped:
        logger.warning(
            "%s: rows with invalid SMILES dropped from their sets: %s",
            given.where,
            "; ".join(
                f"{k} {v[:10]}" + (" ..." if len(v) > 10 else "") for k, v in dropped.items()
            ),
        )
        source["dropped_rows"] = dropped
    check_nonempty(parts, given.where, " once rows with invalid SMILES are dropped")
    if len(parts[1]) == 0:
        train, valid = carve_valid([task.smiles[i] for i in parts[0]], valid_splitter, sizes, seed)
        parts[0], parts[1] = parts[0][train], parts[0][valid]
        source["valid_from_train"] = valid_splitter
        logger.info(
            "%s has no validation rows: %d of its %d training molecules were carved out "
            "by the %s splitter as the validation set",
            given.where,
            len(parts[1]),
            len(parts[0]) + len(parts[1]),
            valid_splitter,
        )
    logger.info(
        "%s: predefined split of %d train / %d valid / %d test molecules",
        given.where,
        *(len(p) for p in parts),
    )
    result = (parts[0], parts[1], parts[2])
    return TaskSplit(result, name, source, split_sha256(task.rows, result))


def task_fingerprints(task: TaskData, radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """ECFP bits ``bool[n, n_bits]`` of the task's molecules (heavy atoms; cached).

    Args:
        task: A prepared task.
        radius: Morgan radius; 2 gives ECFP4.
        n_bits: Fingerprint length. Default 2048.
    """
    from molssl.fingerprints import ecfp_bits

    key = json.dumps([task.key or task.name, len(task), radius, n_bits])
    if key not in _FINGERPRINTS:
        from molssl.featurize.parsing import quiet_rdkit_log

        fps = np.zeros((len(task), n_bits), dtype=bool)
        with quiet_rdkit_log():
            for i, smi in enumerate(task.smiles):
                fps[i] = ecfp_bits(parse_smiles(smi), radius=radius, n_bits=n_bits).numpy()[0]
        _FINGERPRINTS[key] = fps
    return _FINGERPRINTS[key]
