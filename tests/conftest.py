"""Shared fixtures: where the read-only data beside the checkout lives; tiny molecule tasks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    env = os.environ.get("MOLSSL_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$MOLSSL_SHARED_DATA``); the test is skipped when it is absent."""
    path = _shared_data_dir()
    if path is None:
        looked = os.environ.get("MOLSSL_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data"
        pytest.skip(
            f"shared data folder {looked} is absent: set MOLSSL_SHARED_DATA to a folder holding "
            "moleculenet/ and checkpoints/molclr_gcn.pth (README: Tests that skip)"
        )
    return path


@pytest.fixture(scope="session")
def moleculenet_dir(shared_data: Path) -> Path:
    path = shared_data / "moleculenet"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: MOLSSL_SHARED_DATA must hold moleculenet/ (data/README.md)")
    return path


@pytest.fixture(scope="session")
def tpsa_table() -> pd.DataFrame:
    """The first 240 valid molecules of RDKit's ``first_5k.tpsa.csv`` with derived labels."""
    from molssl.data import read_tpsa_table
    from molssl.featurize import InvalidSmilesError, parse_smiles

    def valid(smiles: str) -> bool:
        try:
            parse_smiles(smiles)
        except InvalidSmilesError:
            return False
        return True

    frame = read_tpsa_table()
    frame = frame.iloc[:300]
    frame = frame[frame["smiles"].map(valid)].iloc[:240].reset_index(drop=True)
    frame["polar"] = (frame["tpsa"] > frame["tpsa"].median()).astype(int)
    frame["logtpsa"] = np.log1p(frame["tpsa"])
    return frame


@pytest.fixture
def tiny_data_dir(tmp_path: Path, tpsa_table: pd.DataFrame) -> Path:
    """A data dir holding a 160-molecule ``BBBP.csv`` and ``delaney-processed.csv``."""
    part = tpsa_table.iloc[:160]
    out = tmp_path / "moleculenet"
    out.mkdir()
    pd.DataFrame({"smiles": part["smiles"], "p_np": part["polar"]}).to_csv(
        out / "BBBP.csv", index=False
    )
    pd.DataFrame(
        {"smiles": part["smiles"], "measured log solubility in mols per litre": part["logtpsa"]}
    ).to_csv(out / "delaney-processed.csv", index=False)
    return out
