"""``molssl pretrain`` under torchrun: two gloo processes on CPU complete and resume."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _pretrain_helpers import PYTHON, TINY, subprocess_env

from molssl.contrastive.io.checkpoint import load_checkpoint

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _torchrun(store: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [PYTHON, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    argv += ["-m", "molssl", "pretrain", "--data", str(store), "--out", str(out)]
    argv += ["--batch-size", "32", "--epochs", "2", *TINY, *extra]
    return subprocess.run(
        argv, env=subprocess_env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_two_process_run_completes_and_resumes(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = _torchrun(store_dir, out, "--max-steps", "2", "--set", "objective.name=imolclr")
    assert first.returncode == 0, first.stderr[-3000:]
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 2 and len(ckpt["rng"]) == 2  # one RNG state per rank
    # 228 training molecules / (32 per rank x 2 ranks) = 3 steps per epoch
    assert ckpt["trainer"]["steps_per_epoch"] == 3
    second = _torchrun(
        store_dir, out, "--max-steps", "4", "--resume", "--set", "objective.name=imolclr"
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert load_checkpoint(out / "last.pt")["step"] == 4
    assert second.stdout.count("pretraining stopped at step 4") == 2  # both ranks return
    assert sorted(p.name for p in out.glob("*.pt")) == ["best.pt", "last.pt"]
