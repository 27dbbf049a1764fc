"""``finetune --resume`` continues a training state only for the same molecules."""

from __future__ import annotations

import pandas as pd

from molssl.finetune import FinetuneConfig, finetune

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _config(csv, out, **kwargs) -> FinetuneConfig:
    return FinetuneConfig(
        csv=str(csv),
        targets=["tpsa"],
        task_type="regression",
        epochs=2,
        split="random",
        encoder=TINY_ENCODER,
        device="cpu",
        out_dir=str(out),
        **kwargs,
    )


def test_resume_after_the_molecules_changed_trains_on_the_new_ones(tmp_path, tpsa_table):
    csv = tmp_path / "task.csv"
    labels = tpsa_table["tpsa"].iloc[:80].to_numpy()
    pd.DataFrame({"smiles": tpsa_table["smiles"].iloc[:80], "tpsa": labels}).to_csv(
        csv, index=False
    )
    finetune(_config(csv, tmp_path / "run"))
    # other molecules; labels, row count and (random) split unchanged
    other = pd.DataFrame({"smiles": tpsa_table["smiles"].iloc[80:160].to_numpy(), "tpsa": labels})
    other.to_csv(csv, index=False)
    resumed = finetune(_config(csv, tmp_path / "run", resume=True))
    fresh = finetune(_config(csv, tmp_path / "fresh"))
    assert resumed.value == fresh.value
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "run" / "test_predictions.csv"),
        pd.read_csv(tmp_path / "fresh" / "test_predictions.csv"),
    )
