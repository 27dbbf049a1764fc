"""Tiny tasks for the fine-tuning and benchmark tests, built from RDKit's bundled TPSA table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The shared 2-core box is oversubscribed; one thread is ~10x faster for tiny models."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tpsa_table() -> pd.DataFrame:
    """The first 240 valid molecules of RDKit's ``first_5k.tpsa.csv`` with derived labels."""
    from molssl.data import embedded_tpsa_path
    from molssl.featurize import InvalidSmilesError, parse_smiles

    def valid(smiles: str) -> bool:
        try:
            parse_smiles(smiles)
        except InvalidSmilesError:
            return False
        return True

    frame = pd.read_csv(embedded_tpsa_path(), comment="#", header=None, names=["smiles", "tpsa"])
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
