"""Helpers of the pretraining tests: a small SMILES list with bad rows, tiny-model overrides."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from molssl.data import embedded_smiles_path

REPO_ROOT = Path(__file__).resolve().parents[2]
N_GOOD = 240
#: (position in the file, SMILES) of the rows that cannot be featurized.
BAD_ROWS = ((3, "notasmiles"), (57, "C1CC"), (150, "c1cccc1"))
TINY = [
    "--set",
    "encoder.num_layers=2",
    "--set",
    "encoder.hidden_channels=32",
    "--set",
    "encoder.out_channels=32",
    "--set",
    "encoder.proj_dim=16",
    "--set",
    "trainer.warmup_epochs=1",
    "--set",
    "trainer.log_every=2",
    "--set",
    "trainer.progress=false",
    "--device",
    "cpu",
]


def small_smiles() -> list[str]:
    """The first ``N_GOOD`` SMILES of RDKit's ``first_5K.smi`` with ``BAD_ROWS`` inserted."""
    lines = embedded_smiles_path().read_text().splitlines()[:N_GOOD]
    smiles = [line.split()[0] for line in lines]
    for position, bad in BAD_ROWS:
        smiles.insert(position, bad)
    return smiles


def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m molssl`` subprocesses: this checkout first, one thread."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


PYTHON = sys.executable
