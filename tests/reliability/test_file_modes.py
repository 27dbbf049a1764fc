"""Files molssl writes for the user get the user's normal mode (umask), not mkstemp's 0600.

Atomic writes go through ``tempfile.mkstemp``, whose files are 0600; checkpoints, results
ledgers, predictions and downloaded datasets must not keep that mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest


def _write_checkpoint(path: Path) -> Path:
    from molssl.contrastive.io.checkpoint import save_checkpoint

    return save_checkpoint(path, {}, config={})


def _write_ledger(path: Path) -> Path:
    from molssl.contrastive.io.ledger import ResultsLedger

    ResultsLedger(path, ["task", "value"], ["task"]).append({"task": "bbbp", "value": 0.5})
    return path


def _write_predictions(path: Path) -> Path:
    from molssl.finetune.predictor import write_table

    return write_table(pd.DataFrame({"smiles": ["CCO"], "y": [1.0]}), path)


def _download(path: Path) -> Path:
    from molssl.data.locate import download_file

    return download_file(
        "https://example.invalid/x.csv",
        path,
        downloader=lambda url, dest, timeout: dest.write_text("smiles\nCCO\n"),
    )


def _write_protocol(path: Path) -> Path:
    from molssl.benchmark.protocol import record_protocol_searches, run_entry, write_protocol

    written = write_protocol(path.parent, {"tasks": {}, "methods": {}, "runs": [run_entry()]})
    record_protocol_searches(path.parent, {"ESOL": {"random-init": {"best_params": {}}}})
    return written


def _write_search_record(path: Path) -> Path:
    from molssl.finetune.study import RECORD_FILE, SearchResult, record_search

    result = SearchResult(
        task="t",
        method="m",
        metric="rmse",
        direction="minimize",
        best_params={},
        best_value=1.0,
        best_trial=0,
        n_trials=1,
        search_seconds=1.0,
        seconds=1.0,
        study_name="s",
        storage="study.db",
        sampler_seed=0,
        trial_seed=0,
    )
    record_search(path.parent, result)
    return path.parent / RECORD_FILE


WRITERS: dict[str, Callable[[Path], Path]] = {
    "checkpoint": _write_checkpoint,
    "results-ledger": _write_ledger,
    "predictions": _write_predictions,
    "download": _download,
    "protocol-record": _write_protocol,
    "search-record": _write_search_record,
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
