"""A committed ledger resumes on another machine: cell identities name files by content."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from molssl.benchmark.ledger import read_ledger, results_ledger
from molssl.benchmark.runner import BenchmarkConfig, Cell, _cell_hash, benchmark, parse_method
from molssl.finetune import clear_task_cache

TINY = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _checkpoint(path: Path, seed: int) -> Path:
    from molssl.contrastive.config import to_dict
    from molssl.contrastive.io.checkpoint import save_checkpoint
    from molssl.featurize import MolGraphFeaturizer
    from molssl.models import EncoderConfig, MolEncoder

    featurizer = MolGraphFeaturizer()
    cfg = EncoderConfig.from_featurizer(featurizer, **TINY)
    torch.manual_seed(seed)
    encoder = MolEncoder.from_config(cfg)
    return save_checkpoint(
        path,
        encoder.state_dict(),
        config={"encoder": to_dict(cfg)},
        metadata={"featurizer": featurizer.to_dict()},
    )


def _suite(out: Path, data_dir: Path, ckpt: Path) -> BenchmarkConfig:
    clear_task_cache()
    return BenchmarkConfig(
        tasks=["bbbp"],
        methods=[f"ours=ckpt:{ckpt}", "ecfp-rf"],
        seeds=[0],
        out_dir=str(out),
        data_dir=str(data_dir),
        device="cpu",
        finetune={"epochs": 1},
        rf_estimators=5,
        progress=False,
    )


def test_ledger_resumes_with_data_and_checkpoint_moved_and_reruns_new_weights(
    tmp_path, tiny_data_dir
):
    ckpt = _checkpoint(tmp_path / "ckpt" / "ours.pt", seed=0)
    out = tmp_path / "bench"
    first = benchmark(_suite(out, tiny_data_dir, ckpt))
    assert (first.ran, first.skipped, first.failed) == (2, 0, 0)

    # "another machine": the same files at other paths
    data = Path(shutil.move(tiny_data_dir, tmp_path / "elsewhere" / "moleculenet"))
    moved = Path(shutil.move(ckpt, tmp_path / "elsewhere" / "ours.pt"))
    again = benchmark(_suite(out, data, moved))
    assert (again.ran, again.skipped, again.failed) == (0, 2, 0)

    _checkpoint(moved, seed=1)  # other weights under the same path: that cell runs again
    changed = benchmark(_suite(out, data, moved))
    assert (changed.ran, changed.skipped) == (1, 1)
    assert len(read_ledger(out / "results.csv")) == 3


def test_ledger_of_path_based_identities_is_relabeled_not_rerun(tmp_path, tiny_data_dir):
    ckpt = _checkpoint(tmp_path / "ours.pt", seed=0)
    cfg = _suite(tmp_path / "bench", tiny_data_dir, ckpt)
    benchmark(cfg)
    portable = read_ledger(tmp_path / "bench" / "results.csv")

    def old_hash(row: dict[str, str]) -> dict[str, str]:  # as an older version wrote them
        cell = Cell(row["task"], parse_method(cfg.methods[row["method"] != "ours"]), 0)
        return {**row, "config_hash": _cell_hash(cell, cfg, portable=False)}

    ledger = results_ledger(tmp_path / "bench" / "results.csv")
    assert ledger.rewrite(old_hash) == 2
    assert set(read_ledger(ledger.path)["config_hash"]).isdisjoint(portable["config_hash"])

    again = benchmark(cfg)
    assert (again.ran, again.skipped) == (0, 2)
    upgraded = read_ledger(ledger.path)
    assert len(upgraded) == 2
    assert list(upgraded["config_hash"]) == list(portable["config_hash"])
    assert list(upgraded["value"]) == list(portable["value"])


def test_kept_cells_name_no_absolute_paths_and_still_resume(tmp_path, tiny_data_dir, monkeypatch):
    import json

    import yaml

    root = tiny_data_dir.parent  # the data root: moleculenet/ beside checkpoints/
    ckpt = _checkpoint(root / "checkpoints" / "ours.pt", seed=0)
    monkeypatch.chdir(tmp_path)
    cfg = _suite(Path("bench"), tiny_data_dir, ckpt)
    cfg.keep_cells = True
    assert benchmark(cfg).ran == 2
    (cell,) = [p for p in (tmp_path / "bench" / "cells").iterdir() if "ours" in p.name]
    config = yaml.safe_load((cell / "config.yaml").read_text())
    result = json.loads((cell / "result.json").read_text())
    assert config["data_dir"] == "moleculenet"
    assert config["init"] == "ckpt:checkpoints/ours.pt" == result["init"]
    assert not Path(config["out_dir"]).is_absolute()
    for text in [(cell / n).read_text() for n in ("config.yaml", "result.json")]:
        assert str(tmp_path) not in text

    # the results ledger lost: the kept cell folder is run again in place and rewritten
    (tmp_path / "bench" / "results.csv").unlink()
    clear_task_cache()
    again = benchmark(cfg)
    assert (again.ran, again.failed) == (2, 0)
    assert yaml.safe_load((cell / "config.yaml").read_text())["data_dir"] == "moleculenet"
