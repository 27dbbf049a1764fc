"""``molssl pretrain`` with the momentum objectives (BYOL, MoCo): learning, checkpoints, resume."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from _pretrain_helpers import PYTHON, REPO_ROOT, TINY, subprocess_env

from molssl.cli import main
from molssl.contrastive import FeatureQueue
from molssl.contrastive.config import from_dict
from molssl.contrastive.io.checkpoint import load_checkpoint
from molssl.embed import embed_smiles
from molssl.models.pretrained import load_pretrained
from molssl.objectives import ObjectiveConfig, build_objective
from molssl.pretrain import load_pretrain_config

SMALL = ["--set", "data.limit=52", "--set", "data.valid_size=0.1", "--batch-size", "16"]


def _pretrain(store: Path, out: Path, *extra: str) -> int:
    argv = ["pretrain", "--data", str(store), "--out", str(out), "--epochs", "6"]
    return main([*argv, *TINY, "--set", "trainer.log_every=1", *SMALL, *extra])


def _train_losses(out: Path) -> list[float]:
    with open(out / "metrics.csv", newline="") as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh) if r["split"] == "train"]


def test_byol_learns_and_checkpoint_embeds(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "byol"
    probe = ["--set", "trainer.probe_every=12", "--set", "probe.task=tpsa"]
    probe += ["--set", "probe.limit=60"]
    assert (
        _pretrain(store_dir, out, "--set", "objective.name=byol", "--max-steps", "12", *probe) == 0
    )
    with open(out / "metrics.csv", newline="") as fh:
        probed = [r for r in csv.DictReader(fh) if r["split"] == "probe"]
    assert [int(r["step"]) for r in probed] == [12] and float(probed[0]["knn_rmse"]) > 0
    losses = _train_losses(out)
    assert len(losses) == 12 and np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < np.mean(losses[:3])  # regression onto the target improves
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["encoder_prefix"] == "online."
    state = ckpt["state_dict"]
    assert any(k.startswith("target.network.") for k in state)
    assert any(k.startswith("predictor.") for k in state)
    online = {k: v for k, v in state.items() if k.startswith("online.")}
    assert any(
        not torch.equal(v, state["target.network." + k[len("online.") :]])
        for k, v in online.items()
        if v.is_floating_point()
    )
    loaded = load_pretrained(out / "last.pt")  # what embed, fine-tuning and benchmark use
    assert not loaded.missing_keys and not loaded.unexpected_keys
    encoder, featurizer = loaded.encoder, loaded.featurizer
    torch.testing.assert_close(
        encoder.state_dict()["feat_lin.weight"], state["online.feat_lin.weight"]
    )
    emb, failures, _ = embed_smiles(encoder, featurizer, ["CCO", "c1ccccc1O"])
    assert emb.shape == (2, 32) and np.isfinite(emb).all() and not failures


def test_moco_fills_queue_and_learns(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "moco"
    extra = ["--set", "objective.name=moco", "--set", "objective.queue_size=32"]
    assert _pretrain(store_dir, out, *extra, "--max-steps", "12") == 0
    losses = _train_losses(out)
    assert np.isfinite(losses).all() and losses[0] == 0.0  # no negatives before the first enqueue
    assert np.mean(losses[-3:]) < np.mean(losses[2:5])  # once the 32-row queue is full
    state = load_checkpoint(out / "last.pt")["state_dict"]
    assert int(state["queue.filled"]) == 32 and "predictor.net.0.weight" not in state


def test_moco_resume_restores_target_and_queue_with_fingerprints(
    store_dir: Path, tmp_path: Path
) -> None:
    """Interrupted (4 + 5 steps, inside an epoch) == uninterrupted: weights, target, queue."""
    extra = ["--set", "objective.name=moco", "--set", "objective.queue_size=24"]
    extra += ["--set", "objective.lambda_1=0.5"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert _pretrain(store_dir, straight, *extra, "--max-steps", "9") == 0
    assert _pretrain(store_dir, split, *extra, "--max-steps", "4") == 0
    assert _pretrain(store_dir, split, *extra, "--max-steps", "9", "--resume") == 0
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["step"] == b["step"] == 9
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert {"queue.queue", "queue.extra_fp", "queue.ptr"} <= set(a["state_dict"])
    assert a["state_dict"]["queue.extra_fp"].any()
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, atol=1e-5, rtol=0, msg=key)


def test_moco_weights_queued_negatives_by_tanimoto() -> None:
    objective = build_objective(ObjectiveConfig(name="moco", lambda_1=0.5, queue_size=8))
    g = torch.Generator().manual_seed(0)
    batch_fp = torch.rand(3, 16, generator=g) > 0.5
    queue = FeatureQueue(8, 4, extras={"fp": ((16,), torch.bool)})
    queue.enqueue(torch.randn(5, 4, generator=g), fp=torch.rand(5, 16, generator=g) > 0.6)

    class _Batch(dict):
        fp = batch_fp

    weight = objective._queue_weights(_Batch(fp=batch_fp), queue)
    assert weight.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            a, b = set(np.flatnonzero(batch_fp[i])), set(np.flatnonzero(queue.extra("fp")[j]))
            tanimoto = len(a & b) / len(a | b) if a | b else 0.0
            assert weight[i, j].item() == pytest.approx(1 - 0.5 * tanimoto)


def test_momentum_objective_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="BYOL has none"):
        build_objective(ObjectiveConfig(name="byol", lambda_1=0.5))
    with pytest.raises(ValueError, match="lambda_2"):
        build_objective(ObjectiveConfig(name="moco", lambda_2=0.5))
    with pytest.raises(ValueError, match="queue_size"):
        build_objective(ObjectiveConfig(name="moco", queue_size=0))
    with pytest.raises(ValueError, match="unknown objective"):
        build_objective(ObjectiveConfig(name="swav"))
    moco = build_objective(ObjectiveConfig(name="moco", lambda_1=0.5))
    with pytest.raises(ValueError, match="fingerprint_kind=ecfp"):
        moco.build_model(None, fingerprint_bits=None)


@pytest.mark.parametrize("name", ["byol", "moco"])
def test_presets_load(name: str) -> None:
    cfg = load_pretrain_config(REPO_ROOT / "configs" / f"{name}_gin.yaml")
    assert cfg.objective.name == name and cfg.encoder.conv == "gin"
    objective = build_objective(cfg.objective)
    assert objective.kind == name
    assert from_dict(ObjectiveConfig, {"name": name}).moco.queue_size == 4096


@pytest.mark.distributed
@pytest.mark.slow
def test_two_process_moco_queue_holds_both_ranks_keys(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "moco_ddp"
    argv = [PYTHON, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    argv += ["-m", "molssl", "pretrain", "--data", str(store_dir), "--out", str(out)]
    argv += ["--batch-size", "16", "--epochs", "2", "--max-steps", "2", *TINY]
    argv += ["--set", "objective.name=moco", "--set", "objective.lambda_1=0.5"]
    argv += ["--set", "objective.queue_size=256"]
    run = subprocess.run(
        argv, env=subprocess_env(), capture_output=True, text=True, timeout=180, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    state = load_checkpoint(out / "last.pt")["state_dict"]
    assert int(state["queue.filled"]) == 2 * 2 * 16  # 2 steps x 2 ranks x 16 molecules
    assert state["queue.extra_fp"][:64].any(dim=1).all()
