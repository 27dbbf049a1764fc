"""The tiny fine-tuning task and the study reader shared by the search tests."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd

from molssl.finetune import FinetuneConfig
from molssl.finetune.study import STUDY_FILE

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def tiny_search_config(directory: Path, tpsa_table: pd.DataFrame, epochs: int) -> FinetuneConfig:
    """A tiny-encoder regression of ``logtpsa`` on 60 molecules (``directory/tiny.csv``), split
    at random."""
    csv = directory / "tiny.csv"
    tpsa_table[["smiles", "logtpsa"]].iloc[:60].to_csv(csv, index=False)
    return FinetuneConfig(
        csv=str(csv),
        targets=["logtpsa"],
        task_type="regression",
        epochs=epochs,
        encoder=TINY_ENCODER,
        device="cpu",
        split="random",
    )


def study_trials(out: Path) -> list[optuna.trial.FrozenTrial]:
    """Every trial of the one study in ``out``'s study file."""
    storage = f"sqlite:///{out / STUDY_FILE}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
