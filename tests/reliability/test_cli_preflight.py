"""A missing file or a wrong column is reported before torch is imported (one line, exit 2)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _heavy_after(argv: list[str]) -> tuple[int, list[str], str]:
    """Exit status of ``molssl.cli.main(argv)`` and the heavy modules it imported."""
    code = (
        "import sys\n"
        "from molssl.cli import main\n"
        f"status = main({argv!r})\n"
        "print(status, [m for m in ('torch', 'torch_geometric', 'rdkit') if m in sys.modules])\n"
    )
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    status, _, modules = result.stdout.strip().splitlines()[-1].partition(" ")
    return int(status), ast.literal_eval(modules), result.stderr


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "mols.csv"
    path.write_text("smiles,logp\nCCO,0.1\nc1ccccc1,2.0\n")
    return path


def _cases(tmp_path: Path, table: Path) -> list[tuple[list[str], str]]:
    missing = str(tmp_path / "missing.csv")
    model = tmp_path / "model.pt"
    model.write_bytes(b"x")  # exists: the input is what is wrong
    out = str(tmp_path / "o.csv")
    return [
        (
            ["predict", "--model", str(tmp_path / "none.pt"), "--input", str(table), "-o", out],
            "none.pt",
        ),
        (["predict", "--model", str(model), "--input", missing, "-o", out], "missing.csv"),
        (
            [
                "predict",
                "--model",
                str(model),
                "--input",
                str(table),
                "-o",
                out,
                "--smiles-col",
                "SMILES_X",
            ],
            "SMILES_X",
        ),
        (
            [
                "embed",
                "--checkpoint",
                str(model),
                "--input",
                missing,
                "-o",
                str(tmp_path / "e.npy"),
            ],
            "missing.csv",
        ),
        (["finetune", "--csv", missing, "--targets", "logp"], "missing.csv"),
        (["finetune", "--csv", str(table), "--targets", "logP"], "logP"),
        (["finetune", "--csv", str(table), "--targets", "logp", "--smiles-col", "smi"], "smi"),
        (["featurize", missing, "-o", str(tmp_path / "S")], "missing.csv"),
    ]


@pytest.mark.parametrize("case", range(8))
def test_simple_mistakes_fail_before_torch(tmp_path, table, case):
    argv, named = _cases(tmp_path, table)[case]
    code, heavy, stderr = _heavy_after(argv)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert "torch" not in heavy, f"{argv} imported {heavy}"
    assert len(lines) == 1 and named in lines[0], stderr
