"""Tests for the ``molssl datasets`` status table."""

from __future__ import annotations

from pathlib import Path

import pytest

from molssl.data import dataset_status, format_dataset_table


def test_status_reports_all_found(
    moleculenet_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(tmp_path))
    rows = dataset_status(moleculenet_dir)
    assert len(rows) == 14
    assert all(r.where == "data-dir" and r.path is not None and r.path.is_file() for r in rows)
    by_name = {r.name: r for r in rows}
    assert by_name["ToxCast"].n_targets == 617 and by_name["QM9"].split == "random"
    table = format_dataset_table(rows).splitlines()
    assert table[0].split() == ["name", "task", "targets", "metric", "split", "where", "path"]
    assert len(table) == 15
    assert len({line.index("roc_auc") for line in table if "roc_auc" in line}) == 1


def test_status_missing_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "qm7.csv.gz").write_bytes(b"")
    rows = {r.name: r for r in dataset_status(tmp_path)}
    assert rows["QM7"].where == "data-dir" and rows["QM7"].path == tmp_path / "qm7.csv.gz"
    assert rows["BBBP"].where == "missing" and rows["BBBP"].path is None
    bbbp_line = format_dataset_table(list(rows.values())).splitlines()[1]
    assert bbbp_line.split()[-2:] == ["missing", "-"]
