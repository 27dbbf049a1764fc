"""``molssl pretrain`` end to end: both objectives, exact resume, SIGTERM and resume."""

from __future__ import annotations

import csv
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from _pretrain_helpers import BAD_ROWS, PYTHON, TINY, small_smiles, subprocess_env

from molssl.cli import main
from molssl.contrastive.io.checkpoint import load_checkpoint


def _pretrain(data: Path, out: Path, *extra: str) -> int:
    argv = ["pretrain", "--data", str(data), "--out", str(out), "--batch-size", "64"]
    return main([*argv, "--epochs", "3", *TINY, *extra])


def test_molclr_from_smiles_file(smiles_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert _pretrain(smiles_file, out, "--max-steps", "4") == 0
    assert "stopped at step 4" in capsys.readouterr().out
    for name in ("last.pt", "config.yaml", "metrics.csv", "run_info.json", "store/meta.json"):
        assert (out / name).is_file(), name
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 4 and ckpt["epoch"] == 1  # 228 train molecules / 64 = 3 steps/epoch
    assert ckpt["config"]["encoder"]["hidden_channels"] == 32
    assert ckpt["featurizer"]["name"] == "molclr" and ckpt["featurizer"]["hydrogens"] == "implicit"
    assert (out / "best.pt").is_file()  # one epoch ended with a validation
    with open(out / "store" / "failures.csv", newline="") as fh:
        assert [int(r["row"]) for r in csv.DictReader(fh)] == [row for row, _ in BAD_ROWS]
    assert len(small_smiles()) - len(BAD_ROWS) == 240


def test_imolclr_from_store(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _pretrain(store_dir, out, "--max-steps", "2", "--set", "objective.name=imolclr") == 0
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 2 and ckpt["config"]["objective"]["name"] == "imolclr"
    with open(out / "metrics.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "train"]
    assert rows and float(rows[-1]["loss_fragment"]) > 0
    assert not (out / "store").exists()  # the given store was used, not rebuilt


def test_existing_run_needs_resume(
    store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _pretrain(store_dir, out, "--max-steps", "1") == 0
    capsys.readouterr()
    assert _pretrain(store_dir, out, "--max-steps", "2") == 2
    assert "resume" in capsys.readouterr().err


@pytest.mark.parametrize(("batch", "epochs_done"), [("64", 2), ("32", 0)])
def test_resume_matches_uninterrupted_run(
    store_dir: Path, tmp_path: Path, batch: str, epochs_done: int
) -> None:
    """``--max-steps 6`` == ``--max-steps 3`` then ``--resume --max-steps 6``.

    Batch 64 (3 steps per epoch): the split falls on an epoch end with validation and
    ``best.pt``; batch 32 (7 steps per epoch): it falls inside an epoch.
    """
    straight, split = tmp_path / "straight", tmp_path / "split"
    extra = ("--batch-size", batch)
    assert _pretrain(store_dir, straight, *extra, "--max-steps", "6") == 0
    assert _pretrain(store_dir, split, *extra, "--max-steps", "3") == 0
    assert load_checkpoint(split / "last.pt")["step"] == 3
    assert _pretrain(store_dir, split, *extra, "--resume", "--max-steps", "6") == 0
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["step"] == b["step"] == 6 and a["epoch"] == b["epoch"] == epochs_done
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, atol=1e-5, rtol=0, msg=key)
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]
    if epochs_done:
        assert a["best_metric"] == pytest.approx(b["best_metric"], abs=1e-6)
    else:
        assert a["best_metric"] is b["best_metric"] is None


@pytest.mark.slow
def test_sigterm_writes_checkpoint_then_resume(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["pretrain", "--data", str(store_dir), "--out", str(out), "--batch-size", "32"]
    args += ["--epochs", "1000", *TINY, "--set", "trainer.checkpoint_every_steps=2"]
    proc = subprocess.Popen(
        [PYTHON, "-m", "molssl", *args],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "last.pt").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr  # 143: not finished, resumable
    assert "after an interruption" in stdout
    assert "received SIGTERM" in stderr
    step = load_checkpoint(out / "last.pt")["step"]
    assert step >= 2
    assert main([*args, "--resume", "--max-steps", str(step + 2)]) == 0
    assert load_checkpoint(out / "last.pt")["step"] == step + 2


def test_seed_sets_initial_weights(store_dir: Path, tmp_path: Path) -> None:
    """In one process, runs with the same ``--seed`` start (and so end) with the same weights."""
    states = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert _pretrain(store_dir, tmp_path / name, "--max-steps", "1", "--seed", seed) == 0
        states[name] = load_checkpoint(tmp_path / name / "last.pt")["state_dict"]
    key = "atom_encoder.embeddings.0.weight"
    assert torch.equal(states["a"][key], states["b"][key])
    assert not torch.equal(states["a"][key], states["c"][key])


def test_a_run_folder_in_use_is_refused_in_one_line(
    store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from molssl.contrastive.io.runlock import LOCK_FILE

    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            PYTHON,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | "
            "os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)",
            str(out / LOCK_FILE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _pretrain(store_dir, out, "--max-steps", "1", "--resume") == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "in use by another training run" in err, err
        assert not (out / "last.pt").exists() and not (out / "config.yaml").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _pretrain(store_dir, out, "--max-steps", "1", "--resume") == 0  # free again
