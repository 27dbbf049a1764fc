"""The imagessl benchmark's results ledger: scores survive an interruption and are not mixed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmarks.imagessl import Ledger, _table, _todo

SETTINGS = {"encoder": "resnet18", "max_steps": 30, "batch_size": 128}


def _row(method: str, seed: int, protocol: str, acc: float, steps: int | str = "") -> dict:
    return {
        "method": method,
        "seed": seed,
        "protocol": protocol,
        "accuracy": acc,
        "eval_s": 1.0,
        "pretrain_steps": steps,
        "pretrain_s": 10.0 if steps != "" else "",
    }


def test_a_new_ledger_resumes_with_the_scores_written_so_far(tmp_path: Path) -> None:
    first = Ledger(tmp_path, SETTINGS)
    first.append(_row("simclr", 0, "linear", 0.41, steps=30))
    # The process dies here; a rerun reads back what was already measured, typed as written.
    again = Ledger(tmp_path, SETTINGS)
    assert again.has("simclr", 0, "linear")
    assert not again.has("simclr", 0, "knn") and not again.has("simclr", 1, "linear")
    assert again.rows[0]["seed"] == 0 and again.rows[0]["accuracy"] == pytest.approx(0.41)
    args = argparse.Namespace(protocol_list=["linear", "knn"])
    assert _todo(again, "simclr", 0, args) == ["knn"]
    assert _todo(again, "raw pixels", -1, argparse.Namespace(protocol_list=["finetune"])) == []


def test_a_ledger_of_other_settings_is_refused(tmp_path: Path) -> None:
    Ledger(tmp_path, SETTINGS).append(_row("rotation", 0, "knn", 0.3, steps=30))
    with pytest.raises(SystemExit, match="max_steps"):
        Ledger(tmp_path, {**SETTINGS, "max_steps": 100})
    assert len(Ledger(tmp_path, SETTINGS).rows) == 1  # the refused rerun changed nothing


def test_table_averages_over_seeds_and_counts_each_run_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, SETTINGS)
    for seed, acc, steps in ((0, 0.40, 30), (1, 0.44, 20)):
        ledger.append(_row("simclr", seed, "linear", acc, steps=steps))
        ledger.append(_row("simclr", seed, "knn", acc - 0.1, steps=steps))
    ledger.append(_row("raw pixels", -1, "linear", 0.25))
    table = Ledger(tmp_path, SETTINGS).rows
    lines = _table(table, ["linear", "knn"]).splitlines()
    simclr = next(line for line in lines if line.startswith("| simclr"))
    # mean 42.0, sample std 2.8; steps averaged over the two runs, not the four rows
    assert simclr == "| simclr | 42.0 ± 2.8 | 32.0 ± 2.8 | 2 | 25 | 10 |"
    pixels = next(line for line in lines if line.startswith("| raw pixels"))
    assert pixels == "| raw pixels | 25.0 ± 0.0 | n/a | 1 | - | - |"


def test_two_runs_sharing_an_out_folder_keep_each_others_scores(tmp_path: Path) -> None:
    first, second = Ledger(tmp_path, SETTINGS), Ledger(tmp_path, SETTINGS)
    first.append(_row("simclr", 0, "linear", 0.41, steps=30))
    second.append(_row("simclr", 1, "linear", 0.43, steps=30))
    assert len(Ledger(tmp_path, SETTINGS).rows) == 2 and second.has("simclr", 0, "linear")
    assert (tmp_path / "results.csv.lock").exists()
