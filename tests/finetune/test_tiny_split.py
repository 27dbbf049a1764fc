"""A CSV too small for its split is one line, not a traceback."""

from __future__ import annotations

import pandas as pd

from molssl.cli import main


def test_five_rows_whose_scaffold_split_leaves_a_part_empty(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "five.csv"
    pd.DataFrame(
        {"smiles": ["CCO", "CCN", "CCC", "CCCl", "CCBr"], "y": [0.1, 0.2, 0.3, 0.4, 0.5]}
    ).to_csv(csv, index=False)
    code = main(
        [
            "finetune",
            "--csv",
            str(csv),
            "--targets",
            "y",
            "--task-type",
            "regression",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "empty" in err and "--split" in err
    assert not (tmp_path / "run" / "model.pt").exists()
