"""A second process writing into a run folder in use is refused at once, in one line, not raced.

The holder is a real second process (a plain Python one: the lock is an ``fcntl.flock`` on
``FOLDER/.run.lock``), so the test exercises what two terminals would do.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from molssl.cli import main
from molssl.contrastive.config import ConfigError
from molssl.contrastive.io.runlock import LOCK_FILE, RunInUseError, run_lock

_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.pwrite(fd, f"pid {os.getpid()} on testhost".encode(), 0)
print("held", flush=True)
time.sleep(120)
"""


@contextmanager
def held_elsewhere(folder: Path) -> Iterator[int]:
    """Another process holds ``folder``'s run lock; yields its pid."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder / LOCK_FILE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_lock_names_the_holder_is_reentrant_and_never_stale(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with held_elsewhere(run) as pid:
        with pytest.raises(RunInUseError, match=rf"{run} is in use by another run \(pid {pid}"):
            with run_lock(run):
                pass
    assert issubclass(RunInUseError, ConfigError)  # the CLIs print it as one line, exit 2
    with run_lock(run), run_lock(run, "nested call"):  # the holder was killed: no stale lock
        pass
    with run_lock(run):  # released on exit
        pass


def test_finetune_into_a_folder_in_use_is_one_line_and_writes_nothing(
    tmp_path: Path, tpsa_table: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "t.csv"
    tpsa_table[["smiles", "tpsa"]].iloc[:40].to_csv(csv, index=False)
    out = tmp_path / "run"
    argv = [
        "finetune",
        "--csv",
        str(csv),
        "--targets",
        "tpsa",
        "--task-type",
        "regression",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    with held_elsewhere(out) as pid:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"pid {pid}" in err and "--out" in err, err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing of a run written
    assert main(argv) == 0  # free again: the same command runs
    assert (out / "model.pt").is_file()
