"""Files molssl writes for the user get the user's normal mode (umask), not mkstemp's 0600.

Issue 14: checkpoints were written with mode 0600 (atomic writes went through
``tempfile.mkstemp``); the same held for results ledgers, predictions and downloaded datasets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest


def _write_checkpoint(path: Path) -> Path:
    from molssl.contrastive.checkpoint import save_checkpoint

    return save_checkpoint(path, {}, config={})


def _write_ledger(path: Path) -> Path:
    from molssl.contrastive.ledger import ResultsLedger

    ResultsLedger(path, ["task", "value"], ["task"]).append({"task": "bbbp", "value": 0.5})
    return path


def _write_predictions(path: Path) -> Path:
    from molssl.finetune.predictor import write_table

    return write_table(pd.DataFrame({"smiles": ["CCO"], "y": [1.0]}), path)


def _download(path: Path) -> Path:
    from molssl.data.locate import download_file

    return download_file("https://example.invalid/x.csv", path,
                         downloader=lambda url, dest, timeout: dest.write_text("smiles\nCCO\n"))  # fmt: skip


WRITERS: dict[str, Callable[[Path], Path]] = {
    "checkpoint": _write_checkpoint,
    "results-ledger": _write_ledger,
    "predictions": _write_predictions,
    "download": _download,
}


@pytest.mark.parametrize("umask", [0o022, 0o077])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_written_files_follow_the_umask(writer: str, umask: int, tmp_path: Path) -> None:
    old = os.umask(umask)
    try:
        path = WRITERS[writer](tmp_path / "out.csv")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
