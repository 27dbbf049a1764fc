"""An ensemble's conformal calibration applies only to the member files it was made with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from molssl.finetune import FinetuneConfig, finetune
from molssl.finetune.ensemble import finetune_ensemble
from molssl.finetune.predictor import predict
from molssl.finetune.saved import ModelFileError, file_sha256

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _config(csv: Path, out: Path, **kwargs) -> FinetuneConfig:
    base = {
        "csv": str(csv),
        "task_type": "regression",
        "targets": ["logtpsa"],
        "epochs": 1,
        "batch_size": 16,
        "encoder": TINY_ENCODER,
        "device": "cpu",
        "split": "random",
        "conformal": 0.9,
        "out_dir": str(out),
    }
    return FinetuneConfig(**{**base, **kwargs})


def test_a_member_replaced_after_calibration_is_refused(tmp_path: Path, tpsa_table) -> None:
    csv = tmp_path / "tpsa.csv"
    tpsa_table[["smiles", "logtpsa"]].iloc[:120].to_csv(csv, index=False)
    finetune_ensemble(_config(csv, tmp_path / "ens"), 2)
    record = json.loads((tmp_path / "ens" / "ensemble.json").read_text())["conformal"]
    member = tmp_path / "ens" / "member-1" / "model.pt"
    assert record["member_sha256"] == {
        f"member-{i}": file_sha256(tmp_path / "ens" / f"member-{i}" / "model.pt") for i in (0, 1)
    }
    assert "logtpsa_hi" in predict(tmp_path / "ens", ["CCO"]).columns  # as calibrated: fine

    finetune(_config(csv, tmp_path / "other", seed=7))  # retrained elsewhere, copied over
    shutil.copyfile(tmp_path / "other" / "model.pt", member)
    with pytest.raises(ModelFileError, match="member-1.*changed since"):
        predict(tmp_path / "ens", ["CCO"])
    table = predict([tmp_path / "ens" / f"member-{i}" / "model.pt" for i in (0, 1)], ["CCO"])
    assert "logtpsa_hi" not in table.columns and isinstance(table, pd.DataFrame)
