"""benchmarks/budget_curve.py: its objectives, budgets and argument checks (no pretraining)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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
    argv = [
        "budget_curve.py",
        "--objectives",
        "molclr,simclr",
        "--work",
        str(tmp_path / "w"),
        "--ledger",
        str(tmp_path / "l"),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit, match=r"unknown objective .simclr. in --objectives"):
        budget_curve.main()
    assert not (tmp_path / "w").exists() and not (tmp_path / "l").exists()


def test_an_interrupted_pretraining_is_never_taken_for_a_snapshot(
    budget_curve, monkeypatch, tmp_path
) -> None:
    import argparse

    from molssl.contrastive.io.checkpoint import save_checkpoint

    def stopped_early(rc):  # `molssl pretrain` that wrote step 7 of 8, then exited with rc
        def run(cmd):
            out = Path(cmd[cmd.index("--out") + 1])
            save_checkpoint(out / "last.pt", {}, config={}, step=7)
            return subprocess.CompletedProcess(cmd, rc)

        return run

    args = argparse.Namespace(
        work=str(tmp_path), batch_size=128, corpus="rdkit", workers=1, device="auto"
    )
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

    values = {
        ("budget-0", "A"): 0.6,
        ("budget-0", "B"): 0.7,
        ("budget-0", "C"): 0.5,
        ("molclr-100", "A"): 0.8,
        ("molclr-100", "B"): 0.8,
        ("molclr-100", "C"): 0.5,
        ("byol-100", "A"): 0.7,
        ("byol-100", "B"): 0.6,
        ("smoke-x", "A"): 0.1,
    }
    for (method, task), value in values.items():
        for seed in (0, 1):
            append_row(
                tmp_path / "results.csv",
                {
                    "task": task,
                    "method": method,
                    "seed": seed,
                    "metric": "roc_auc",
                    "value": value,
                    "status": "ok",
                },
            )
    table = budget_curve.curve_table(tmp_path)
    rows = {
        (r.objective, r.passes): (round(r.average, 6), r.tasks, r.seeds) for r in table.itertuples()
    }
    assert rows == {
        ("molclr", 0): (0.6, 3, 2),
        ("molclr", 100): (0.7, 3, 2),
        ("byol", 0): (0.65, 2, 2),
        ("byol", 100): (0.65, 2, 2),  # C is not BYOL's: left out
    }
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
            append_row(
                ledger / "results.csv",
                {"task": task, "method": "molclr-1024", "seed": seed, "status": "ok", "value": 0.5},
            )
    append_row(
        ledger / "results.csv",
        {"task": "BBBP", "method": "molclr-4096", "seed": 0, "status": "ok", "value": 0.5},
    )
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
        save_checkpoint(
            out / "last.pt",
            {"w": torch.zeros(3)},
            config={"a": 1},
            optimizer={"state": {}, "param_groups": []},
            step=steps,
        )
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(budget_curve.subprocess, "run", pretrain)
    args = argparse.Namespace(
        work=str(tmp_path / "work"),
        batch_size=128,
        corpus="rdkit",
        workers=1,
        device="auto",
        force_snapshots=False,
    )
    snaps = budget_curve.pretrain_snapshots(
        "molclr", [1024, 4096], args, print, frozenset(finished)
    )
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
    argv = [
        "budget_curve.py",
        "--objectives",
        "imolclr",
        "--budgets",
        "0,1000",
        "--batch-size",
        "128",
        "--work",
        str(tmp_path / "w"),
        "--ledger",
        str(tmp_path / "l"),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit):
        budget_curve.main()
    assert seen == [
        ["budget-0=random-init", f"imolclr-1024=ckpt:{committed / 'imolclr_passes_1024.pt'}"]
    ]


def test_objective_entries_become_stable_filename_safe_labels(budget_curve) -> None:
    parse = budget_curve.parse_objective
    assert parse("molclr").label(10_240) == "molclr-10240"  # the committed ledger's labels
    recipe = parse(
        " imolclr + attrmask@1 + descriptors@0.50 ", schedule="cosine", corpus_size=200_000
    )
    assert recipe.spec == "imolclr+attrmask+descriptors@0.5"
    assert recipe.stem == "imolclr+attrmask+descriptors@0.5_cosine_n200000"
    tiny = parse("attrmask", overrides=("encoder.num_layers=2",))
    assert tiny.stem == parse("attrmask", overrides=("encoder.num_layers=2",)).stem
    assert tiny.stem.startswith("attrmask_o") and tiny.stem != parse("attrmask").stem
    for label in (recipe.label(1_000_448), tiny.label(64)):
        assert re.fullmatch(r"[A-Za-z0-9+@._-]+", label), label
    assert budget_curve.split_label(recipe.label(1_000_448)) == (recipe.stem, 1_000_448)
    assert budget_curve.split_label("budget-0") is None
    assert budget_curve.split_label("ecfp-rf") is None


@pytest.mark.parametrize(
    ("entry", "overrides", "message"),
    [
        ("simclr", (), "unknown objective 'simclr'"),
        ("imolclr+descriptors@x", (), "weight 'x' of 'descriptors'"),
        ("attrmask@0", (), "weight '0' of 'attrmask'"),
        ("molclr+moco", (), "sums two two-view objectives"),
        ("molclr", ("trainer.schedule=cosine",), "trainer.schedule is set by this script"),
        ("molclr", ("data.limit=10",), "data.limit is set by this script"),
    ],
)
def test_bad_entries_are_refused_in_one_line(budget_curve, entry, overrides, message) -> None:
    with pytest.raises(budget_curve.ObjectiveSpecError, match=re.escape(message)):
        budget_curve.parse_objective(entry, overrides=overrides)


def test_every_entry_trains_the_same_gin_batch_and_schedule(budget_curve) -> None:
    from molssl.contrastive.config import apply_overrides, parse_set_arguments, to_dict

    base = load_pretrain_config(ROOT / budget_curve.BASE_CONFIG)
    for path in budget_curve.CONFIGS.values():
        cfg = load_pretrain_config(ROOT / path)
        assert to_dict(cfg.encoder) == to_dict(base.encoder), path
        trainer = {k: v for k, v in to_dict(cfg.trainer).items() if k != "out_dir"}
        assert trainer == {k: v for k, v in to_dict(base.trainer).items() if k != "out_dir"}

    def resolved(entry: str, **kw):
        args = budget_curve.parse_objective(entry, **kw).pretrain_args()
        cfg = load_pretrain_config(ROOT / args[1])
        sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
        return apply_overrides(cfg, parse_set_arguments(sets)) if sets else cfg

    assert budget_curve.parse_objective("molclr").pretrain_args() == [
        "--config",
        "configs/molclr_gin.yaml",
    ]
    cfg = resolved("moco+attrmask@2", schedule="cosine")
    assert cfg.objective.name == "moco+attrmask" and cfg.objective.weights == [1.0, 2.0]
    assert cfg.objective.temperature == 0.2  # MoCo's preset, not MolCLR's 0.1
    assert cfg.trainer.schedule == "cosine"
    cfg = resolved("imolclr+descriptors@0.5")
    assert cfg.objective.resolved() == (0.5, 0.5) and cfg.trainer.schedule == "molclr"
    assert resolved("descriptors").objective.name == "descriptors"


def fake_pretrain(calls):
    def pretrain(cmd):
        from molssl.contrastive.io.checkpoint import save_checkpoint

        out = Path(cmd[cmd.index("--out") + 1])
        steps = int(cmd[cmd.index("--max-steps") + 1])
        assert not (out / "last.pt").exists() or not out.parent.name.endswith("_cosine")
        calls.append((out, steps, cmd))
        save_checkpoint(out / "last.pt", {"w": torch.zeros(2)}, config={}, step=steps)
        return subprocess.CompletedProcess(cmd, 0)

    return pretrain


def test_cosine_budgets_are_runs_from_scratch_named_apart_from_constant_ones(
    budget_curve, monkeypatch, tmp_path
) -> None:
    import argparse

    monkeypatch.setattr(budget_curve, "COMMITTED", tmp_path / "kept")
    calls = []
    monkeypatch.setattr(budget_curve.subprocess, "run", fake_pretrain(calls))
    args = argparse.Namespace(
        work=str(tmp_path / "w"),
        batch_size=128,
        corpus="rdkit",
        workers=1,
        device="auto",
        store=tmp_path / "store",
        store_size=1_000,
    )
    cosine = budget_curve.parse_objective("attrmask", schedule="cosine")
    snaps = budget_curve.pretrain_snapshots(cosine, [0, 1024, 4096], args, print)
    root = tmp_path / "w" / "attrmask_cosine"
    assert [(c[0], c[1]) for c in calls] == [(root / "passes_1024", 8), (root / "passes_4096", 32)]
    assert snaps == {
        1024: root / "snapshots" / "passes_1024.pt",
        4096: root / "snapshots" / "passes_4096.pt",
    }
    assert "trainer.schedule=cosine" in calls[0][2] and str(tmp_path / "store") in calls[0][2]
    assert (tmp_path / "kept" / "attrmask_cosine_passes_4096.pt").is_file()
    # 4,096 passes of 950 training molecules at 128 (7 steps an epoch): 5 epochs, within 100
    assert "trainer.epochs" not in " ".join(calls[1][2])
    constant = budget_curve.parse_objective("attrmask")
    budget_curve.pretrain_snapshots(constant, [1024, 4096], args, print)
    assert [(c[0], c[1]) for c in calls[2:]] == [
        (tmp_path / "w" / "attrmask", 8),
        (tmp_path / "w" / "attrmask", 32),
    ]
    assert (tmp_path / "kept" / "attrmask_passes_4096.pt").is_file()


def test_a_budget_past_the_planned_epochs_needs_the_cosine_schedule(budget_curve) -> None:
    import argparse

    args = argparse.Namespace(batch_size=32, store_size=200)  # 190 train: 5 steps an epoch
    molclr = budget_curve.parse_objective("molclr", corpus_size=200)
    assert budget_curve.epochs_args(molclr, 500, args, print) == []  # 100 epochs
    with pytest.raises(budget_curve.ObjectiveSpecError, match="101 epochs.*--schedule cosine"):
        budget_curve.epochs_args(molclr, 501, args, print)
    cosine = budget_curve.parse_objective("molclr", schedule="cosine", corpus_size=200)
    assert budget_curve.epochs_args(cosine, 501, args, print) == ["--set", "trainer.epochs=101"]


def test_done_snapshots_are_deleted_unless_kept(budget_curve, monkeypatch, tmp_path) -> None:
    import argparse

    monkeypatch.setattr(budget_curve, "COMMITTED", tmp_path / "kept")
    monkeypatch.setattr(budget_curve.subprocess, "run", fake_pretrain([]))
    args = argparse.Namespace(
        work=str(tmp_path / "w"), batch_size=128, corpus="rdkit", workers=1, device="auto"
    )
    recipe = budget_curve.parse_objective("molclr", schedule="cosine")
    budget_curve.pretrain_snapshots(recipe, [1024, 2048, 4096], args, print)
    snapshots = {recipe.label(p): (recipe, p) for p in (1024, 2048, 4096)}
    done = {recipe.label(1024), recipe.label(4096)}  # 2,048 still has cells to run
    budget_curve.release_snapshots(snapshots, done, "largest", args, print)

    def files(passes: int) -> list[bool]:
        copies = budget_curve.snapshot_paths(recipe, passes, args)
        run = tmp_path / "w" / "molclr_cosine" / f"passes_{passes}" / "last.pt"
        return [copies[1].is_file(), copies[2].is_file(), run.is_file()]

    assert files(1024) == [False, False, False]
    assert files(2048) == [True, True, True]  # its cells are not done
    assert files(4096) == [True, True, True]  # the largest budget: kept
    budget_curve.release_snapshots(snapshots, set(snapshots), "molclr_cosine-2048", args, print)
    assert files(2048) == [True, True, True] and files(4096) == [False, False, False]


def test_ecfp_cells_are_reused_only_from_a_ledger_of_the_same_protocol(
    budget_curve, tmp_path
) -> None:
    import json
    import shutil

    ledgers = ROOT / "benchmarks" / "ledgers"
    tasks = ["bbbp", "bace", "sider", "esol", "lipophilicity"]
    rows, why = budget_curve.reference_rows(
        ledgers / "budget_curve", ledgers / "moleculenet_quick", tasks, [0, 1, 2]
    )
    assert rows is not None, why
    assert len(rows) == 15 and set(rows["method"]) == {"ecfp-rf"}
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(ledgers / "moleculenet_quick" / "results.csv", other / "results.csv")
    protocol = json.loads((ledgers / "moleculenet_quick" / "protocol.json").read_text())
    protocol["tasks"]["ESOL"]["split_sha256"]["1"] = "0" * 64
    (other / "protocol.json").write_text(json.dumps(protocol))
    rows, why = budget_curve.reference_rows(ledgers / "budget_curve", other, tasks, [0, 1, 2])
    assert rows is None and "tasks.ESOL.split_sha256.1" in why


@pytest.mark.slow
def test_smoke_run_of_a_cosine_composition_with_descriptors(
    budget_curve, monkeypatch, tmp_path
) -> None:
    import pandas as pd

    monkeypatch.setattr(budget_curve, "COMMITTED", tmp_path / "kept")
    ledger = tmp_path / "ledger"
    tiny = [
        "encoder.num_layers=2",
        "encoder.hidden_channels=16",
        "encoder.out_channels=16",
        "encoder.proj_dim=8",
        "objective.descriptors.hidden=8",
        "trainer.probe_every=0",
    ]
    argv = [
        "budget_curve.py",
        "--objectives",
        "imolclr+descriptors@0.5",
        "--schedule",
        "cosine",
        "--corpus",
        "rdkit",
        "--corpus-size",
        "200",
        "--budgets",
        "0,64,128",
        "--batch-size",
        "32",
        "--tasks",
        "bbbp",
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--max-molecules",
        "100",
        "--workers",
        "1",
        "--work",
        str(tmp_path / "work"),
        "--ledger",
        str(ledger),
        *[a for item in tiny for a in ("--set", item)],
    ]
    monkeypatch.setattr(sys, "argv", argv)
    budget_curve.main()
    recipe = budget_curve.parse_objective(
        "imolclr+descriptors@0.5", schedule="cosine", corpus_size=200, overrides=tuple(tiny)
    )
    stem = recipe.stem
    assert stem.startswith("imolclr+descriptors@0.5_cosine_n200_o")
    results = pd.read_csv(ledger / "results.csv")
    assert set(zip(results["method"], results["status"], strict=True)) == {
        ("budget-0", "ok"),
        (f"{stem}-64", "ok"),
        (f"{stem}-128", "ok"),
        ("ecfp-rf", "ok"),
    }
    assert set(results["task"]) == {"BBBP"} and set(results["seed"]) == {0}
    work = tmp_path / "work"
    assert (work / "store_n200_desc").is_dir() and not (work / "store").exists()
    assert sorted(p.name for p in (work / stem).iterdir()) == [
        "passes_128",
        "passes_64",
        "snapshots",
    ]
    # the cells are done: the smaller snapshot is deleted, the largest kept (--keep largest)
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == [f"{stem}_passes_128.pt"]
    assert sorted(p.name for p in (work / stem / "snapshots").iterdir()) == ["passes_128.pt"]
    table = pd.read_csv(ledger / "budget_curve.csv")
    assert list(table["passes"]) == [0, 64, 128] and set(table["objective"]) == {stem}
    assert set(table["metric"]) == {"roc_auc"} and set(table["tasks"]) == {1}
    assert table["ecfp_rf"].notna().all()  # the smoke protocol differs: ecfp-rf ran here
    assert f"| {stem} | 128 | roc_auc |" in (ledger / "budget_curve.md").read_text()
    assert (ledger / "budget_curve.png").is_file()
