"""Which registered datasets are available locally (backs the ``molssl datasets`` command)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from molssl.data.locate import find_local_file
from molssl.data.registry import DATASETS

StatusWhere = Literal["data-dir", "env", "cache", "missing"]


class DatasetStatus(NamedTuple):
    """One row of :func:`dataset_status`."""

    name: str
    task_type: str
    n_targets: int | None
    metric: str
    split: str
    path: Path | None
    where: StatusWhere


def dataset_status(data_dir: str | Path | None = None) -> list[DatasetStatus]:
    """Status of every registered dataset, in registry order. Never downloads.

    Args:
        data_dir: Directory searched first, as in :func:`molssl.data.locate_dataset_file`.

    Returns:
        One :class:`DatasetStatus` per dataset; ``path`` is ``None`` and ``where`` is
        ``"missing"`` when no local file exists (it would be downloaded on first use).
    """
    rows = []
    for spec in DATASETS.values():
        found = find_local_file(spec, data_dir)
        path, where = found if found is not None else (None, "missing")
        rows.append(
            DatasetStatus(
                spec.name,
                spec.task_type,
                spec.num_targets,
                spec.metric,
                spec.default_split,
                path,
                where,
            )
        )
    return rows


def format_dataset_table(rows: list[DatasetStatus]) -> str:
    """Aligned plain-text table of :func:`dataset_status` rows (header line first)."""
    header = ("name", "task", "targets", "metric", "split", "where", "path")
    body = [
        (
            r.name,
            r.task_type,
            "?" if r.n_targets is None else str(r.n_targets),
            r.metric,
            r.split,
            r.where,
            "-" if r.path is None else str(r.path),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    )
