"""Lock files are never opened through a symbolic link nor when they are not plain files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from molssl.contrastive.io.ledger import locked
from molssl.contrastive.io.runlock import LOCK_FILE, LockFileError, file_lock, run_lock
from molssl.store_check import LOCK_NAME, is_locked, store_lock


def _planted(folder: Path, name: str, tmp_path: Path) -> Path:
    """A link ``folder/name`` to a file of the user's that a truncating open would empty."""
    folder.mkdir(parents=True, exist_ok=True)
    victim = tmp_path / "thesis.tex"
    victim.write_text("three years of work")
    os.symlink(victim, folder / name)
    return victim


def _enter(manager) -> None:
    with manager:
        pass


@pytest.mark.parametrize(
    ("name", "lock"),
    [
        (LOCK_FILE, lambda folder: run_lock(folder, "pretraining run")),
        (".target-0.lock", lambda folder: file_lock(folder / ".target-0.lock", wait=False)),
        (LOCK_NAME, lambda folder: store_lock(folder)),
        ("results.csv.lock", lambda folder: locked(folder / "results.csv.lock")),
    ],
)
def test_a_linked_lock_is_refused_and_its_target_kept(tmp_path, name, lock):
    victim = _planted(tmp_path / "run", name, tmp_path)
    with pytest.raises(LockFileError, match="symbolic link"):
        _enter(lock(tmp_path / "run"))
    assert victim.read_text() == "three years of work"


def test_a_dangling_link_creates_nothing(tmp_path):
    (tmp_path / "run").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "run" / LOCK_FILE)
    with pytest.raises(LockFileError):
        _enter(run_lock(tmp_path / "run"))
    assert not (tmp_path / "elsewhere").exists()


def test_a_lock_that_is_not_a_regular_file_is_refused(tmp_path):
    (tmp_path / "store" / LOCK_NAME).mkdir(parents=True)
    with pytest.raises(LockFileError, match="not a regular file|symbolic link|directory"):
        _enter(store_lock(tmp_path / "store"))
    os.mkfifo(tmp_path / "fifo.lock")
    with pytest.raises(LockFileError, match="not a regular file"):
        _enter(file_lock(tmp_path / "fifo.lock", wait=True))


def test_is_locked_refuses_a_link(tmp_path):
    _planted(tmp_path / "store", LOCK_NAME, tmp_path)
    with pytest.raises(LockFileError):
        is_locked(tmp_path / "store")


def test_cli_refuses_a_linked_run_lock_in_one_line(tmp_path, tpsa_table, capsys):
    from molssl.cli import main

    csv = tmp_path / "task.csv"
    tpsa_table[["smiles", "tpsa"]].iloc[:40].to_csv(csv, index=False)
    victim = _planted(tmp_path / "run", LOCK_FILE, tmp_path)
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
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "symbolic link" in err and LOCK_FILE in err
    assert victim.read_text() == "three years of work"
