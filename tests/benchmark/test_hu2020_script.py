"""benchmarks/hu2020.py: a tiny run of every method, its ledger, protocol and tables; resume."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "num_layers": 2,
    "hidden_channels": 16,
    "out_channels": 16,
    "proj_dim": 16,
    "head": False,
    "pooling": "mean",
}


@pytest.fixture(scope="module")
def hu2020():
    spec = importlib.util.spec_from_file_location("hu2020", ROOT / "benchmarks" / "hu2020.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_smoke_run_records_both_values_every_method_and_the_table(
    hu2020, shared_data, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MOLSSL_SHARED_DATA", str(shared_data))
    out = tmp_path / "ledger"
    args = hu2020.parse_args(["--smoke", "--out", str(out), "--tasks", "bbbp,bace"])
    result, table = hu2020.run_suite(args, encoder=TINY, finetune={"max_molecules": 200})
    assert (result.ran, result.failed) == (len(hu2020.METHODS), 0)  # --smoke: 1 task, 1 seed

    rows = pd.read_csv(out / "results.csv")
    assert sorted(rows["method"]) == sorted(hu2020.METHODS)
    assert set(rows["task"]) == {"BBBP"} and set(rows["seed"]) == {0}
    assert (rows["status"] == "ok").all() and (
        rows["n_train"] + rows["n_valid"] + rows["n_test"] <= 200
    ).all()
    tuned = rows[rows["method"] != "ecfp-rf"]
    assert tuned["value"].between(0, 1).all() and tuned["value_last"].between(0, 1).all()
    assert (tuned["epochs"] == 1).all()  # one epoch: best and last are the same weights
    assert (tuned["value"] == tuned["value_last"]).all()

    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["profile"] == "hu2020" and protocol["finetune"]["encoder"] == TINY
    assert (protocol["finetune"]["encoder_lr"], protocol["finetune"]["head_layers"]) == (1e-3, 1)
    methods = protocol["methods"]
    assert methods["gcn-contextpred"]["spec"] == (
        "hu2020-gcn:checkpoints/hu2020_gcn_contextpred.pth"
    )  # relative to the shared data folder
    assert methods["gcn-scratch"]["encoder"]["conv"] == "gcn-norm"
    assert methods["gin-scratch"]["encoder"]["conv"] == "gin"
    for label in ("gcn-scratch", "gin-scratch"):  # the suite's encoder settings
        assert {k: methods[label]["encoder"][k] for k in TINY} == TINY
        assert methods[label]["encoder"]["dropout"] == 0.5
    for label in ("gcn-contextpred", "gcn-supervised-contextpred"):  # the checkpoint's own
        encoder = methods[label]["encoder"]
        assert (encoder["conv"], encoder["num_layers"], encoder["hidden_channels"]) == (
            "gcn-norm",
            5,
            300,
        )
        assert encoder["head"] is False and encoder["pooling"] == "mean"
    released = methods["imolclr-gin-moses-1m"]  # the package's release keeps its own sizes
    assert released["spec"] == "molssl:imolclr-gin-moses-1m"
    assert (released["encoder"]["conv"], released["encoder"]["hidden_channels"]) == ("gin", 300)
    assert "encoder" not in methods["ecfp-rf"] and methods["ecfp-rf"]["rf_estimators"] == 5

    text = table.read_text()
    assert table == out / "hu2020_table.md"
    best, last = text.split("## Test at the last epoch")
    header = next(line for line in best.splitlines() if line.startswith("| dataset"))
    assert header == "| " + " | ".join(["dataset", *hu2020.METHODS, "Hu et al. GIN scratch"]) + " |"
    row = next(line for line in best.splitlines() if line.startswith("| BBBP"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    by_method = rows.set_index("method")
    for label, cell in zip(hu2020.METHODS, cells[1:], strict=False):
        assert cell == f"{100 * by_method.loc[label, 'value']:.1f}"  # one seed: no ± std
    assert cells[-1] == "65.8"
    assert "| **average (1 task)**" in best
    gcn = by_method.loc["gcn-scratch"]
    assert (
        f"| gcn-scratch | {100 * gcn['value']:.1f} | {100 * gcn['value_last']:.1f} | 68.9 |" in last
    )
    assert "| gin-supervised-contextpred | not run | not run | 74.2 |" in last
    assert "None: every cell has a result." in text

    table.unlink()
    hu2020.main(["--table-only", "--out", str(out), "--tasks", "bbbp", "--seeds", "0"])
    assert table.read_text() == text  # from the ledger alone, nothing run
    assert len(pd.read_csv(out / "results.csv")) == len(hu2020.METHODS)
    again, _ = hu2020.run_suite(args, encoder=TINY, finetune={"max_molecules": 200})
    n_methods = len(hu2020.METHODS)
    assert (again.ran, again.skipped) == (0, n_methods)  # resumed: every cell is in the ledger
    assert len(pd.read_csv(out / "results.csv")) == len(hu2020.METHODS)


def test_table_names_missing_seeds_and_leaves_an_incomplete_average_out(hu2020, tmp_path) -> None:
    from molssl.benchmark.ledger import COLUMNS, read_ledger

    def row(task, method, seed, value, status="ok", error=""):
        return {
            **dict.fromkeys(COLUMNS, ""),
            "task": task,
            "method": method,
            "seed": seed,
            "value": value,
            "value_last": value - 0.1,
            "epochs": 100,
            "config_hash": "h",
            "status": status,
            "error": error,
        }

    frame = pd.DataFrame(
        [
            row("BBBP", "gcn-scratch", 0, 0.6),
            row("BBBP", "gcn-scratch", 1, 0.7),
            row("BACE", "gcn-scratch", 0, 0.8),
            row("BACE", "gcn-scratch", 1, float("nan"), "failed", "OSError: x"),
        ]
    )
    frame.to_csv(tmp_path / "results.csv", index=False)
    path = hu2020.write_table(
        read_ledger(tmp_path / "results.csv"), tmp_path, ["BBBP", "BACE"], ["gcn-scratch"], [0, 1]
    )
    text = path.read_text()
    assert "| BBBP | 65.0 ± 7.1 | 65.8 |" in text and "| BBBP | 55.0 ± 7.1 | 65.8 |" in text
    assert "| BACE | 80.0 | 70.1 |" in text
    assert "| **average (2 tasks)** | incomplete |" in text
    assert "- BACE / gcn-scratch: seeds 1 missing (last error: OSError: x)" in text
    assert "| gcn-scratch | incomplete | incomplete | 68.9 |" in text


def test_a_bad_extra_method_is_one_line_before_any_work(hu2020, tmp_path) -> None:
    args = hu2020.parse_args(
        ["--out", str(tmp_path / "l"), "--methods", "ecfp-rf", "--methods-extra", "molssl:NAME"]
    )
    with pytest.raises(SystemExit, match="must be LABEL=WEIGHTS"):
        hu2020.method_specs(args)
    args = hu2020.parse_args(["--methods", "gcn-scratch,gat"])
    with pytest.raises(SystemExit, match="unknown method 'gat' in --methods"):
        hu2020.method_specs(args)
    assert not (tmp_path / "l").exists()
