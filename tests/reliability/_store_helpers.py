"""Small inputs and a CLI runner shared by the store, row and PubChem reliability tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from molssl.data import embedded_smiles_path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def head_smiles(n: int) -> list[str]:
    """The first ``n`` SMILES of RDKit's bundled ``first_5K.smi``."""
    lines = embedded_smiles_path().read_text().splitlines()[:n]
    return [line.split()[0] for line in lines]


def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m molssl`` subprocesses: this checkout first, one thread."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


TINY = [
    "--set",
    "encoder.num_layers=2",
    "--set",
    "encoder.hidden_channels=16",
    "--set",
    "encoder.out_channels=16",
    "--set",
    "encoder.proj_dim=8",
    "--set",
    "trainer.warmup_epochs=1",
    "--set",
    "trainer.progress=false",
    "--device",
    "cpu",
]


def tiny_checkpoint(directory: Path) -> Path:
    """``last.pt`` of one molclr step of a tiny GIN on 40 bundled molecules."""
    from molssl.cli import main

    corpus = directory / "corpus.smi"
    corpus.write_text("\n".join(head_smiles(40)) + "\n")
    argv = ["pretrain", "--data", str(corpus), "--out", str(directory / "run")]
    assert main([*argv, "--batch-size", "8", "--max-steps", "1", *TINY]) == 0
    return directory / "run" / "last.pt"


def pretrained_store(root: Path, tiny: list[str]) -> dict[str, Path]:
    """Under ``root``: ``corpus.smi`` (40 bundled molecules), its store ``store`` and a 1-step
    pretraining run ``pre`` on it with the model/trainer arguments ``tiny``."""
    from molssl.cli import main

    corpus = root / "corpus.smi"
    corpus.write_text("".join(embedded_smiles_path().read_text().splitlines(True)[:40]))
    assert main(["featurize", str(corpus), "-o", str(root / "store")]) == 0
    argv = ["pretrain", "--data", str(root / "store"), "--out", str(root / "pre")]
    assert main([*argv, "--device", "cpu", "--batch-size", "8", *tiny]) == 0
    return {"corpus": corpus, "store": root / "store", "pre": root / "pre"}
