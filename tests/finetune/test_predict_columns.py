"""``molssl predict``: the output is never the input, and prediction columns never clobber an
input column: a clashing input column is kept as ``NAME_input`` and the run says so."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from molssl.cli import main
from molssl.contrastive.config import ConfigError
from molssl.finetune import FinetuneConfig, finetune
from molssl.finetune.domain import COLUMNS as DOMAIN_COLUMNS
from molssl.finetune.predictor import predict_file

TINY_ENCODER = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tpsa_table) -> Path:
    """A 60-molecule regression fine-tune with conformal intervals (1 epoch)."""
    root = tmp_path_factory.mktemp("ft")
    csv = root / "tpsa.csv"
    tpsa_table[["smiles", "tpsa"]].iloc[:60].to_csv(csv, index=False)
    torch.set_num_threads(1)
    finetune(
        FinetuneConfig(
            csv=str(csv),
            task_type="regression",
            targets=["tpsa"],
            epochs=1,
            encoder=TINY_ENCODER,
            device="cpu",
            conformal=0.9,
            out_dir=str(root / "run"),
        )
    )
    return root / "run"


def _input(tmp_path: Path, **columns) -> Path:
    path = tmp_path / "in.csv"
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O", "CC(=O)N"], **columns}).to_csv(path, index=False)
    return path


def test_prediction_columns_have_fixed_names(model_dir, tmp_path) -> None:
    predict_file(model_dir, _input(tmp_path, note="kept"), tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out.columns) == [
        "smiles",
        "note",
        "tpsa",
        "tpsa_lo",
        "tpsa_hi",
        *DOMAIN_COLUMNS,
        "error",
    ]


@pytest.mark.parametrize("column", ["tpsa", "error", "tpsa_lo", "tpsa_hi"])
def test_an_input_column_named_like_a_prediction_column_is_kept_under_input(
    model_dir, tmp_path, column
) -> None:
    src = _input(tmp_path, **{column: ["mine"] * 3})
    predict_file(model_dir, src, tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out[f"{column}_input"]) == ["mine"] * 3
    assert list(out.columns).count(column) == 1
    if column == "error":
        assert list(out["error"]) == ["", "", ""]
    else:
        assert "mine" not in set(map(str, out[column]))


def test_a_taken_input_name_gets_the_next_free_suffix(model_dir, tmp_path) -> None:
    src = _input(tmp_path, tpsa=[1.0, 2.0, 3.0], tpsa_input=["a", "b", "c"])
    predict_file(model_dir, src, tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out["tpsa_input"]) == ["a", "b", "c"]
    assert list(out["tpsa_input2"]) == [1.0, 2.0, 3.0]
    assert out["tpsa"].astype(float).tolist() != [1.0, 2.0, 3.0]


def test_cli_says_in_one_line_which_column_was_kept(model_dir, tmp_path, caplog) -> None:
    src = _input(tmp_path, tpsa=[1.0, 2.0, 3.0])
    argv = [
        "predict",
        "--model",
        str(model_dir),
        "--input",
        str(src),
        "-o",
        str(tmp_path / "o.csv"),
    ]
    with caplog.at_level("WARNING"):
        assert main(argv) == 0
    lines = [r.getMessage() for r in caplog.records if "kept as" in r.getMessage()]
    assert len(lines) == 1 and "'tpsa_input'" in lines[0]
    assert "tpsa_input" in pd.read_csv(tmp_path / "o.csv").columns


def test_a_clash_is_refused_where_a_result_meets_a_frame() -> None:
    from molssl.finetune.predictor import check_column_clash

    with pytest.raises(ConfigError, match="'tpsa'"):
        check_column_clash(["smiles", "tpsa"], ["tpsa", "error"], "frame")


def test_output_that_is_the_input_is_refused(model_dir, tmp_path, capsys) -> None:
    src = _input(tmp_path, note=["a", "b", "c"])
    before = src.read_bytes()
    with pytest.raises(ConfigError, match="is the input"):
        predict_file(model_dir, src, tmp_path / "." / "in.csv")
    assert main(["predict", "--model", str(model_dir), "--input", str(src), "-o", str(src)]) == 2
    assert "is the input" in capsys.readouterr().err
    assert src.read_bytes() == before
