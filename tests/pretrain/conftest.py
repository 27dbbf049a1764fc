"""Shared fixtures of the pretraining tests: a small SMILES file with bad rows, tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from molssl.data import embedded_smiles_path

REPO_ROOT = Path(__file__).resolve().parents[2]
N_GOOD = 240
#: (position in the file, SMILES) of the rows that cannot be featurized.
BAD_ROWS = ((3, "notasmiles"), (57, "C1CC"), (150, "c1cccc1"))
TINY = [
    "--set", "encoder.num_layers=2",
    "--set", "encoder.hidden_channels=32",
    "--set", "encoder.out_channels=32",
    "--set", "encoder.proj_dim=16",
    "--set", "trainer.warmup_epochs=1",
    "--set", "trainer.log_every=2",
    "--set", "trainer.progress=false",
    "--device", "cpu",
]  # fmt: skip


def small_smiles() -> list[str]:
    """The first ``N_GOOD`` SMILES of RDKit's ``first_5K.smi`` with ``BAD_ROWS`` inserted."""
    lines = embedded_smiles_path().read_text().splitlines()[:N_GOOD]
    smiles = [line.split()[0] for line in lines]
    for position, bad in BAD_ROWS:
        smiles.insert(position, bad)
    return smiles


@pytest.fixture(scope="session")
def smiles_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``.smi`` file of :func:`small_smiles` (one SMILES and an id per line)."""
    path = tmp_path_factory.mktemp("corpus") / "small.smi"
    path.write_text("".join(f"{s}\tid{i}\n" for i, s in enumerate(small_smiles())))
    return path


@pytest.fixture(scope="session")
def store_dir(smiles_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete graph store (with ECFP bits and fragments) of ``smiles_file``."""
    from molssl.store import build_graph_store

    out = tmp_path_factory.mktemp("store") / "store"
    build_graph_store(smiles_file, out, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``last.pt`` of 2 molclr steps of a tiny GIN on ``store_dir``."""
    from molssl.cli import main

    out = tmp_path_factory.mktemp("tiny_run")
    argv = ["pretrain", "--data", str(store_dir), "--out", str(out), "--batch-size", "32"]
    assert main([*argv, "--max-steps", "2", "--epochs", "2", *TINY]) == 0
    return out / "last.pt"


def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m molssl`` subprocesses: this checkout first, one thread."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


PYTHON = sys.executable
