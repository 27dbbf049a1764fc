"""Exact resume on the embedded default data (``molssl pretrain`` without ``--data``).

The first run builds the default store in its own process, the resumed run opens the finished
store: both must train on the same data order with the same random streams and thread settings.
Each run is its own process (as a user runs them), with the embedded corpus swapped for its first
lines so that the store builds in seconds; the code path is the one of a run without ``--data``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from molssl.contrastive.io.checkpoint import load_checkpoint
from molssl.data import embedded_smiles_path

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--set",
    "encoder.num_layers=2",
    "--set",
    "encoder.hidden_channels=32",
    "--set",
    "encoder.out_channels=32",
    "--set",
    "encoder.proj_dim=16",
    "--set",
    "trainer.warmup_epochs=1",
    "--set",
    "trainer.progress=false",
    "--device",
    "cpu",
]
# Runs `molssl pretrain ARGS` with the embedded corpus replaced by the file named in argv[1].
_DRIVER = """
import sys
from pathlib import Path
import molssl.data
small = Path(sys.argv[1])
molssl.data.embedded_smiles_path = lambda: small
from molssl.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    # Two intra-op threads in every run, whatever the machine: a run that changes its own
    # thread count while building the store then computes with another reduction order.
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "2"}


def _pretrain(corpus: Path, out: Path, *extra: str) -> None:
    argv = ["pretrain", "--out", str(out), "--batch-size", "16", "--seed", "3", *TINY, *extra]
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(corpus), *argv],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_resume_on_default_data_matches_uninterrupted_run(tmp_path: Path) -> None:
    corpus = tmp_path / "first_5K_head.smi"
    corpus.write_text("".join(embedded_smiles_path().read_text().splitlines(True)[:120]))
    straight, split = tmp_path / "straight", tmp_path / "split"
    _pretrain(corpus, straight, "--max-steps", "6")
    _pretrain(corpus, split, "--max-steps", "3")
    _pretrain(corpus, split, "--resume", "--max-steps", "6")
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["step"] == b["step"] == 6
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, atol=0, rtol=0, msg=key)


def test_building_a_store_keeps_the_thread_count(tmp_path: Path) -> None:
    from molssl.store import build_graph_store

    corpus = tmp_path / "c.smi"
    corpus.write_text("CCO\nc1ccccc1\n")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        build_graph_store(corpus, tmp_path / "store", workers=1, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
