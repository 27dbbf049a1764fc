"""benchmarks/budget_curve.py: its objectives, budgets and argument checks (no pretraining)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from molssl.pretrain import load_pretrain_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def budget_curve():
    spec = importlib.util.spec_from_file_location(
        "budget_curve", ROOT / "benchmarks" / "budget_curve.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_every_objective_has_a_preset_of_that_objective(budget_curve) -> None:
    assert set(budget_curve.CONFIGS) == {"molclr", "imolclr", "byol", "moco"}
    for objective, path in budget_curve.CONFIGS.items():
        cfg = load_pretrain_config(ROOT / path)
        assert cfg.objective.name == objective, path
        assert cfg.encoder.conv == "gin" and cfg.trainer.batch_size == 512, path


def test_budgets_round_up_to_whole_batches(budget_curve) -> None:
    assert budget_curve.steps_for(10_000, 512) == 20  # 10,240 passes
    assert budget_curve.steps_for(100_000, 512) == 196  # 100,352 passes
    assert budget_curve.steps_for(1_024, 128) == 8


def test_unknown_objective_is_refused_before_any_work(budget_curve, monkeypatch, tmp_path) -> None:
    argv = ["budget_curve.py", "--objectives", "molclr,simclr", "--work", str(tmp_path / "w"),
            "--ledger", str(tmp_path / "l")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit, match=r"unknown objective .simclr. in --objectives"):
        budget_curve.main()
    assert not (tmp_path / "w").exists() and not (tmp_path / "l").exists()


def test_an_interrupted_pretraining_is_never_taken_for_a_snapshot(budget_curve, monkeypatch,
                                                                   tmp_path) -> None:  # fmt: skip
    import argparse

    from molssl.contrastive.io.checkpoint import save_checkpoint

    def stopped_early(rc):  # `molssl pretrain` that wrote step 7 of 8, then exited with rc
        def run(cmd):
            out = Path(cmd[cmd.index("--out") + 1])
            save_checkpoint(out / "last.pt", {}, config={}, step=7)
            return subprocess.CompletedProcess(cmd, rc)

        return run

    args = argparse.Namespace(work=str(tmp_path), batch_size=128, corpus="rdkit", workers=1,
                              device="auto")  # fmt: skip
    monkeypatch.setattr(budget_curve.subprocess, "run", stopped_early(143))  # SIGTERM
    with pytest.raises(SystemExit, match="exited with status 143.*resume"):
        budget_curve.pretrain_snapshots("molclr", [1024], args, print)
    monkeypatch.setattr(budget_curve.subprocess, "run", stopped_early(0))
    with pytest.raises(SystemExit, match="at step 7, not 8"):
        budget_curve.pretrain_snapshots("molclr", [1024], args, print)
    assert not (tmp_path / "molclr" / "snapshots" / "passes_1024.pt").exists()


def test_table_holds_every_budget_of_the_ledger_over_each_objectives_shared_tasks(
    budget_curve, tmp_path
) -> None:
    from molssl.benchmark.ledger import append_row

    values = {("budget-0", "A"): 0.6, ("budget-0", "B"): 0.7, ("budget-0", "C"): 0.5,
              ("molclr-100", "A"): 0.8, ("molclr-100", "B"): 0.8, ("molclr-100", "C"): 0.5,
              ("byol-100", "A"): 0.7, ("byol-100", "B"): 0.6, ("smoke-x", "A"): 0.1}  # fmt: skip
    for (method, task), value in values.items():
        for seed in (0, 1):
            append_row(tmp_path / "results.csv", {"task": task, "method": method, "seed": seed,
                                                  "metric": "roc_auc", "value": value,
                                                  "status": "ok"})  # fmt: skip
    table = budget_curve.curve_table(tmp_path)
    rows = {(r.objective, r.passes): (round(r.average, 6), r.tasks, r.seeds)
            for r in table.itertuples()}  # fmt: skip
    assert rows == {
        ("molclr", 0): (0.6, 3, 2), ("molclr", 100): (0.7, 3, 2),
        ("byol", 0): (0.65, 2, 2), ("byol", 100): (0.65, 2, 2),  # C is not BYOL's: left out
    }  # fmt: skip
    assert "| byol | 100 | roc_auc | 0.650 | 2 | 2 |" in budget_curve.markdown(table)


def test_finished_budgets_are_not_pretrained_again_and_committed_snapshots_are_used(
    budget_curve, monkeypatch, tmp_path
) -> None:
    import argparse

    import torch

    from molssl.benchmark.ledger import append_row
    from molssl.contrastive.io.checkpoint import load_checkpoint, save_checkpoint

    ledger = tmp_path / "ledger"
    for task in ("BBBP", "ESOL"):
        for seed in (0, 1):
            append_row(ledger / "results.csv", {"task": task, "method": "molclr-1024",
                                                "seed": seed, "status": "ok", "value": 0.5})  # fmt: skip
    append_row(ledger / "results.csv", {"task": "BBBP", "method": "molclr-4096", "seed": 0,
                                        "status": "ok", "value": 0.5})  # fmt: skip
    finished = budget_curve.finished_labels(ledger, ["bbbp", "esol"], [0, 1])
    assert finished == {"molclr-1024"}  # molclr-4096 lacks three of its four cells

    committed = tmp_path / "committed"
    monkeypatch.setattr(budget_curve, "COMMITTED", committed)
    save_checkpoint(committed / "imolclr_passes_1024.pt", {}, config={}, step=8)
    pretrained = []

    def pretrain(cmd):
        out = Path(cmd[cmd.index("--out") + 1])
        steps = int(cmd[cmd.index("--max-steps") + 1])
        pretrained.append((out.name, steps))
        save_checkpoint(out / "last.pt", {"w": torch.zeros(3)}, config={"a": 1},
                        optimizer={"state": {}, "param_groups": []}, step=steps)  # fmt: skip
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(budget_curve.subprocess, "run", pretrain)
    args = argparse.Namespace(work=str(tmp_path / "work"), batch_size=128, corpus="rdkit",
                              workers=1, device="auto", force_snapshots=False)  # fmt: skip
    snaps = budget_curve.pretrain_snapshots("molclr", [1024, 4096], args, print,
                                            frozenset(finished))  # fmt: skip
    assert pretrained == [("molclr", 32)]  # straight to 4,096 passes: 1,024 is finished
    assert list(snaps) == [4096]
    snap = load_checkpoint(snaps[4096])
    assert snap["optimizer"] is None and snap["step"] == 32 and snap["config"] == {"a": 1}
    assert snap["state_dict"]["w"].shape == (3,)
    assert budget_curve.pretrain_snapshots("imolclr", [1024], args, print) == {
        1024: committed / "imolclr_passes_1024.pt"
    }
    args.force_snapshots = True
    budget_curve.pretrain_snapshots("molclr", [1024], args, print, frozenset(finished))
    assert pretrained[-1] == ("molclr", 8)


def test_a_committed_snapshot_is_fine_tuned_under_its_budgets_label(
    budget_curve, monkeypatch, tmp_path
) -> None:
    import molssl.benchmark.runner as runner
    from molssl.contrastive.io.checkpoint import save_checkpoint

    committed = tmp_path / "committed"
    monkeypatch.setattr(budget_curve, "COMMITTED", committed)
    save_checkpoint(committed / "imolclr_passes_1024.pt", {}, config={}, step=8)
    seen = []

    def benchmark(cfg):
        seen.append(cfg.methods)
        raise SystemExit(0)  # stop before any fine-tuning

    monkeypatch.setattr(runner, "benchmark", benchmark)
    monkeypatch.setattr(budget_curve.subprocess, "run", lambda *a, **k: pytest.fail("pretrained"))
    argv = ["budget_curve.py", "--objectives", "imolclr", "--budgets", "0,1000",
            "--batch-size", "128", "--work", str(tmp_path / "w"), "--ledger", str(tmp_path / "l")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit):
        budget_curve.main()
    assert seen == [
        ["budget-0=random-init", f"imolclr-1024=ckpt:{committed / 'imolclr_passes_1024.pt'}"]
    ]
