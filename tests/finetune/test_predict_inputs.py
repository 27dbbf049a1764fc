"""``molssl predict`` reads PubChem's layout as ``embed`` does and fails loudly when nothing
could be predicted; a benchmark checks its weights before any cell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from molssl.cli import main
from molssl.finetune import FinetuneConfig, finetune

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tpsa_table) -> tuple[Path, list[str]]:
    """``(model.pt, its first 5 training SMILES)`` of a 2-epoch 60-molecule regression."""
    root = tmp_path_factory.mktemp("model")
    csv = root / "tpsa.csv"
    tpsa_table[["smiles", "logtpsa"]].iloc[:60].to_csv(csv, index=False)
    torch.set_num_threads(1)
    finetune(
        FinetuneConfig(
            csv=str(csv),
            targets=["logtpsa"],
            task_type="regression",
            epochs=2,
            encoder=TINY_ENCODER,
            device="cpu",
            out_dir=str(root / "run"),
        )
    )
    return root / "run" / "model.pt", list(tpsa_table["smiles"].iloc[:5])


@pytest.mark.parametrize("name", ["pubchem_head.txt", "pubchem_head.smi"])
def test_predict_reads_pubchem_layout_in_txt_and_smi(tiny_model, tmp_path, name):
    model, smiles = tiny_model
    path = tmp_path / name
    path.write_text(
        "".join(f"{cid}\t{smi}\n" for cid, smi in zip([11, 22, 33], smiles[:3], strict=True))
    )
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model), "--input", str(path), "-o", str(out)]) == 0
    frame = pd.read_csv(out, dtype={"id": str}, keep_default_na=False)
    assert list(frame["id"]) == ["11", "22", "33"]
    assert list(frame["smiles"]) == smiles[:3] and (frame["error"] == "").all()


def test_predict_exits_2_when_every_row_fails(tiny_model, tmp_path, capsys):
    model, _ = tiny_model
    path = tmp_path / "bad.csv"
    pd.DataFrame({"smiles": ["not-a-smiles", "C1CC", "xyz"]}).to_csv(path, index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model), "--input", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "every one of the 3 rows" in err[0] and "--smiles-col" in err[0]
    assert len(pd.read_csv(out)) == 3  # the rows and their reasons are still written


@pytest.mark.parametrize("weights", ["missing", "unreadable"])
def test_benchmark_refuses_bad_weights_before_any_cell(tmp_path, tiny_data_dir, capsys, weights):
    path = tmp_path / "weights.pt"
    if weights == "unreadable":
        path.write_bytes(b"not a checkpoint")
    out = tmp_path / "bench"
    code = main(
        [
            "benchmark",
            "--tasks",
            "esol",
            "--methods",
            f"random-init,ckpt:{path}",
            "--seeds",
            "0",
            "--out",
            str(out),
            "--data-dir",
            str(tiny_data_dir),
            "--device",
            "cpu",
            "--set",
            "epochs=1",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]
    assert not (out / "results.csv").exists()  # no cell ran
