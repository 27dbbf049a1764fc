"""The demo's benchmark task and its line on what the numbers mean."""

from __future__ import annotations

import pandas as pd

from molssl.demo import MOLCLR_PASSES, demo_task, meaning_line


def test_demo_tpsa_task_keeps_every_row_and_nitriles(tmp_path, monkeypatch) -> None:
    from molssl.data import read_tpsa_table

    monkeypatch.setenv("MOLSSL_OFFLINE", "1")
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(tmp_path / "empty_cache"))
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    description, fields = demo_task(tmp_path, data_dir=str(tmp_path / "nothing_here"))
    assert "TPSA" in description and fields["targets"] == ["tpsa"]
    written = pd.read_csv(fields["csv"])
    assert len(written) == len(read_tpsa_table()) == 4999
    assert written["smiles"].str.contains("C#N").sum() > 100


def test_meaning_line_states_the_budget_gap() -> None:
    line = meaning_line(300 * 128, 5)
    assert "38,400 molecule-passes" in line and f"{MOLCLR_PASSES / 38400:,.0f}x fewer" in line
    assert "5 epochs" in line and "\n" not in line
