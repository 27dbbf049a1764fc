"""Read MoleculeNet CSVs (and users' own task CSVs) into SMILES plus a float label matrix.

Reading is done by pandas, which handles ``.csv``/``.csv.gz``, quoted fields and the blank line
that follows every row of ``HIV.csv``, and never treats the first molecule as a header. Missing
labels become NaN; a label cell that is not a number is an error naming file, column and row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from molssl.data.errors import DataFormatError
from molssl.data.locate import locate_dataset_file
from molssl.data.registry import DatasetSpec, TaskType, get_dataset_spec

logger = logging.getLogger(__name__)

NA_STRINGS: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "NAN", "null", "NULL", "None")
"""Label cells read as missing (NaN). Everything else must parse as a number."""


@dataclass
class MoleculeNetData:
    """A loaded task table.

    Attributes:
        spec: The dataset spec (for user CSVs, one built by :func:`load_csv_task`).
        smiles: ``n`` SMILES strings, surrounding whitespace stripped, in file order.
        targets: ``float32[n, T]`` labels, NaN where missing, unit conversions applied.
        target_names: ``T`` target column names, in the column order of ``targets``.
        path: The file that was read.
    """

    spec: DatasetSpec
    smiles: list[str]
    targets: np.ndarray
    target_names: tuple[str, ...]
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def num_targets(self) -> int:
        """``T``, the number of target columns."""
        return self.targets.shape[1]


def _read_header(path: Path) -> list[str]:
    try:
        return list(pd.read_csv(path, nrows=0).columns)
    except pd.errors.EmptyDataError as err:
        raise DataFormatError(f"{path} is empty: expected a header line and data rows.") from err


def read_task_table(
    path: str | Path, smiles_column: str, targets: tuple[str, ...] | list[str] = ()
) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Read SMILES and numeric labels from a CSV (plain or gzip).

    Args:
        path: CSV file with a header line.
        smiles_column: Header of the SMILES column.
        targets: Target column headers; empty means every column except ``smiles_column``.
            Repeated header names are addressed as pandas renames them (``"name.1"``).

    Returns:
        ``(smiles, labels float32[n, T], target_names)``.

    Raises:
        DataFormatError: On an empty file, a file without data rows, a missing column (the
            message lists the available columns) or a non-numeric label cell.
    """
    path = Path(path)
    columns = _read_header(path)
    wanted = list(targets) or [c for c in columns if c != smiles_column]
    missing = [c for c in (smiles_column, *wanted) if c not in columns]
    if missing:
        raise DataFormatError(
            f"{path}: column(s) {missing} not found. Available columns: {columns}. "
            f"Pass the right smiles_column/targets names."
        )
    if not wanted:
        raise DataFormatError(f"{path}: no target columns besides {smiles_column!r}.")
    frame = pd.read_csv(
        path,
        usecols=[smiles_column, *wanted],
        dtype={smiles_column: str},
        keep_default_na=False,
        na_values={column: list(NA_STRINGS) for column in wanted},
        skip_blank_lines=True,
    )
    if len(frame) == 0:
        raise DataFormatError(f"{path} has a header but no data rows.")
    labels = np.empty((len(frame), len(wanted)), dtype=np.float32)
    for j, column in enumerate(wanted):
        labels[:, j] = _numeric_column(frame[column], path, column)
    smiles = frame[smiles_column].fillna("").astype(str).str.strip().tolist()
    return smiles, labels, tuple(wanted)


def _numeric_column(values: pd.Series, path: Path, column: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float32)
    numeric = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(numeric.isna().to_numpy() & values.notna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataFormatError(
            f"{path}: column {column!r}, data row {row + 1} (1-based, header and blank lines "
            f"not counted) holds {values.iloc[row]!r}, which is not a number "
            f"({len(bad)} such cell(s) in this column). Fix or blank these cells; blank means "
            f"missing label."
        )
    return numeric.to_numpy(dtype=np.float32)


def load_dataset(
    name: str | DatasetSpec,
    data_dir: str | Path | None = None,
    *,
    download: bool = True,
    apply_target_scale: bool = True,
) -> MoleculeNetData:
    """Load a registered MoleculeNet dataset.

    Args:
        name: Registered name or alias (case-insensitive), or a :class:`DatasetSpec`.
        data_dir: Directory searched first (see :func:`locate_dataset_file`).
        download: Whether a missing file may be downloaded into the cache. Default ``True``.
        apply_target_scale: Multiply targets by ``spec.target_scale`` (QM9 Hartree to eV, as
            MolCLR). Default ``True``.

    Returns:
        :class:`MoleculeNetData` with every row of the file (invalid SMILES included; the
        featurizer reports them).

    Raises:
        UnknownDatasetError: Unknown name.
        DatasetNotFoundError: File absent and not downloadable.
        DataFormatError: Malformed file (see :func:`read_task_table`).
    """
    spec = get_dataset_spec(name)
    path = locate_dataset_file(spec, data_dir, download=download)
    smiles, labels, target_names = read_task_table(path, spec.smiles_column, spec.targets)
    if apply_target_scale:
        for j, target in enumerate(target_names):
            factor = spec.target_scale.get(target)
            if factor is not None:
                labels[:, j] *= np.float32(factor)
    if not spec.targets:
        spec = replace(spec, targets=target_names)
    logger.info(
        "Loaded %s: %d molecules, %d targets from %s",
        spec.name,
        len(smiles),
        len(target_names),
        path,
    )
    return MoleculeNetData(spec, smiles, labels, target_names, path)


def load_csv_task(
    path: str | Path,
    smiles_column: str = "smiles",
    targets: str | tuple[str, ...] | list[str] = (),
    task_type: TaskType = "regression",
    *,
    split: str = "scaffold",
) -> MoleculeNetData:
    """Load a user's own CSV task (plain or ``.gz``).

    Args:
        path: CSV file with a header line.
        smiles_column: Header of the SMILES column. Default ``"smiles"``.
        targets: One column name or several; empty means every other column.
        task_type: ``"classification"`` (metric ROC-AUC) or ``"regression"`` (metric RMSE).
        split: Default split recorded in the spec. Default ``"scaffold"``.

    Returns:
        :class:`MoleculeNetData` whose ``spec`` is built from the arguments.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: On an unknown task type or split.
        DataFormatError: Empty file, missing column (available columns listed), non-numeric label.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Task CSV {path} does not exist.")
    wanted = (targets,) if isinstance(targets, str) else tuple(targets)
    metric = "roc_auc" if task_type == "classification" else "rmse"
    spec = DatasetSpec(
        path.name,
        (path.name,),
        path.resolve().as_uri(),
        smiles_column,
        wanted,
        task_type,
        metric,
        split,
        f"user CSV {path}",
    )
    smiles, labels, target_names = read_task_table(path, smiles_column, wanted)
    return MoleculeNetData(replace(spec, targets=target_names), smiles, labels, target_names, path)
