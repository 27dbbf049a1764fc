"""RDKit's own parse errors stay off stderr while featurizing; the reasons are in failures.csv.

Guards against RDKit's raw messages ("SMILES Parse Error: ...") appearing between the
progress-bar updates of ``molssl featurize`` and ``demo``, also from worker processes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

BAD = ["C1CC", "c1cccc1", "C(C)(C)(C)(C)C", "notasmiles"]


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_featurize_keeps_rdkit_quiet(workers: int, tmp_path: Path, capfd) -> None:
    from molssl.cli import main

    corpus = tmp_path / "bad.smi"
    corpus.write_text("".join(f"{s}\n" for s in ["CCO", *BAD, "c1ccccc1"] * 3))
    store = tmp_path / "store"
    argv = ["featurize", str(corpus), "-o", str(store), "--workers", str(workers)]
    assert main([*argv, "--shard-size", "6"]) == 0
    err = capfd.readouterr().err  # file descriptor 2: RDKit's C++ log and worker processes too
    for marker in ("SMILES Parse Error", "Can't kekulize", "Explicit valence"):
        assert marker not in err, err
    with open(store / "failures.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["smiles"] for r in rows] == BAD * 3
    assert "unclosed ring" in rows[0]["reason"] and "valence" in rows[2]["reason"]


def test_featurize_many_keeps_rdkit_quiet(capfd) -> None:
    from molssl.featurize import featurize_many

    result = featurize_many(["CCO", *BAD])
    assert len(result.failures) == len(BAD)
    assert "SMILES Parse Error" not in capfd.readouterr().err


def test_scaffold_split_keeps_rdkit_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    """Splitting (as the benchmark and the demo do) prints no raw RDKit messages."""
    from molssl.splits import scaffold_split

    smiles = ["c1ccccc1CC", "not a smiles", "C1CC", "[H]", "CCO", "c1ccncc1O"] * 3
    capfd.readouterr()
    scaffold_split(smiles)
    assert "SMILES Parse Error" not in capfd.readouterr().err
