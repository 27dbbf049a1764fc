"""Fixtures of the pretraining tests: a small SMILES file with bad rows, a store, a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pretrain_helpers import TINY, small_smiles


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
