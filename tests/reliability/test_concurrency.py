"""No hangs, no orphans, no races: parallel featurization and concurrent store builds.

Today's attacks: ``featurize_many(workers=2)`` after torch work in the same process hung forever
(forked workers stuck in OpenMP) and left orphaned workers when the parent was killed; two
``molssl featurize`` processes on one store both exited 0 after deleting each other's shards and
duplicating every failure.
"""

from __future__ import annotations

import csv
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _store_helpers import PYTHON, head_smiles, subprocess_env

from molssl.store import GraphStore

_AFTER_TORCH = """
import torch
torch.set_num_threads(2)
x = torch.arange(200_000)
for _ in range(20):
    torch.repeat_interleave(x, 3).sum()  # warms torch's OpenMP thread pool in this process
from molssl.featurize import MolGraphFeaturizer, featurize_many
featurizer = MolGraphFeaturizer(fingerprint=True, fingerprint_kind="imolclr", fragments=True)
result = featurize_many(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"] * 20, featurizer, workers=2)
print(len(result.graphs), len(result.failures))
"""


def test_featurize_many_with_workers_after_torch_work_does_not_hang() -> None:
    proc = subprocess.run(
        [PYTHON, "-c", _AFTER_TORCH],
        env={**subprocess_env(), "OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        timeout=300,  # a regression fails here instead of hanging the suite
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["60", "0"]


_SLOW_FEATURIZER = """
import os, time
from pathlib import Path
from molssl.featurize import MolGraphFeaturizer

class SlowFeaturizer(MolGraphFeaturizer):
    def __call__(self, smiles):
        Path(os.environ["READY_DIR"], str(os.getpid())).touch()
        time.sleep(0.5)  # a chunk of 1,000 rows keeps a worker busy for minutes
        return super().__call__(smiles)
"""
_KILLED_PARENT = """
from slowfeat import SlowFeaturizer
from molssl.featurize import featurize_many
if __name__ == "__main__":
    featurize_many(["CCO"] * 2_000, SlowFeaturizer(), workers=2, chunksize=1_000)
"""


def _alive(pid: int) -> bool:
    try:  # a zombie (exited, not yet reaped) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_busy_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    (tmp_path / "slowfeat.py").write_text(_SLOW_FEATURIZER)
    (tmp_path / "driver.py").write_text(_KILLED_PARENT)
    ready = tmp_path / "ready"
    ready.mkdir()
    env = subprocess_env()
    env = {
        **env,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}",
        "READY_DIR": str(ready),
    }
    parent = subprocess.Popen([PYTHON, str(tmp_path / "driver.py")], env=env)
    try:
        deadline = time.monotonic() + 300
        while len(list(ready.iterdir())) < 2 and time.monotonic() < deadline:
            assert parent.poll() is None, "the driver exited early"
            time.sleep(0.5)
        workers = [int(p.name) for p in ready.iterdir()]
        assert len(workers) == 2, "the workers never started featurizing"
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed parent"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    smiles = head_smiles(300)
    for row in (5, 120, 250):
        smiles[row] = "not_a_smiles"
    path = tmp_path / "corpus.smi"
    path.write_text("\n".join(smiles) + "\n")
    return path


def _featurize(corpus: Path, store: Path) -> subprocess.Popen:
    argv = [
        PYTHON,
        "-m",
        "molssl",
        "featurize",
        str(corpus),
        "-o",
        str(store),
        "--shard-size",
        "50",
    ]
    return subprocess.Popen(
        argv, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _failure_rows(store: Path) -> list[int]:
    with open(store / "failures.csv", newline="") as fh:
        return [int(r["row"]) for r in csv.DictReader(fh)]


def test_second_build_waits_for_the_lock_holder(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "S"
    store.mkdir()
    fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a build in another process holds it
    try:
        proc = _featurize(corpus, store)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=30)  # long enough to build 300 molecules several times over
        assert not (store / "meta.json").exists()
    finally:
        os.close(fd)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert "being built by another process" in err
    assert len(GraphStore(store)) == 297 and _failure_rows(store) == [5, 120, 250]


@pytest.mark.slow
def test_two_concurrent_builds_give_one_store(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "S"
    procs = [_featurize(corpus, store), _featurize(corpus, store)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    opened = GraphStore(store, verify=True)
    assert len(opened) == 297 and opened.meta["failures"] == 3
    assert _failure_rows(store) == [5, 120, 250]
    assert [opened[i].row for i in range(len(opened))] == [
        r for r in range(300) if r not in (5, 120, 250)
    ]
