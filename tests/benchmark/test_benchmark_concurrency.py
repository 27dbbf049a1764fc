"""Two `molssl benchmark` processes sharing one --out run every cell once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from molssl.benchmark.ledger import read_ledger
from molssl.benchmark.runner import BenchmarkConfig, benchmark

TINY = "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16, proj_dim: 8}"


def _args(data_dir, out) -> list[str]:
    return [
        sys.executable,
        "-m",
        "molssl",
        "benchmark",
        "--tasks",
        "bbbp,esol",
        "--methods",
        "random-init,ecfp-rf",
        "--seeds",
        "0,1,2",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
        "--device",
        "cpu",
        "--set",
        "epochs=2",
        "--set",
        TINY,
    ]


@pytest.mark.slow
def test_two_processes_share_one_out_and_run_each_cell_once(tmp_path, tiny_data_dir) -> None:
    out = tmp_path / "bench"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            _args(tiny_data_dir, out),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ledger = read_ledger(out / "results.csv")
    cells = list(zip(ledger["task"], ledger["method"], ledger["seed"], strict=True))
    assert len(cells) == len(set(cells)) == 12  # 2 tasks x 2 methods x 3 seeds, each once
    assert (ledger["status"] == "ok").all()
    ran = [int(o.split(" cells run")[0].split()[-1]) for o in outputs]
    assert sum(ran) == 12
    assert not list((out / "claims").glob("*.json"))  # every claim released


def test_cell_claimed_by_live_process_is_left_to_it(tmp_path, tiny_data_dir) -> None:
    from molssl.contrastive.io.claims import CellClaims

    cfg = BenchmarkConfig(
        tasks=["bbbp"],
        methods=["ecfp-rf"],
        seeds=[0, 1],
        out_dir=str(tmp_path / "b"),
        data_dir=str(tiny_data_dir),
        device="cpu",
        rf_estimators=5,
        progress=False,
    )
    from molssl.benchmark.runner import Cell, _cell_hash, parse_method

    cell = Cell("BBBP", parse_method("ecfp-rf"), 1)
    key = repr(("BBBP", "ecfp-rf", 1, _cell_hash(cell, cfg)))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        claims = CellClaims(tmp_path / "b")
        claims.dir.mkdir(parents=True)
        claims._path(key).write_text(
            json.dumps({"pid": sleeper.pid, "host": claims.me.host, "started": time.time()})
        )
        result = benchmark(cfg)
        assert (result.ran, result.skipped) == (1, 1)
        assert read_ledger(result.results_csv)["seed"].tolist() == [0]
    finally:
        sleeper.kill()
        sleeper.wait()
    result = benchmark(cfg)  # the claimant died without a row: the cell is free again
    assert (result.ran, result.skipped) == (1, 1)
    assert sorted(read_ledger(result.results_csv)["seed"].tolist()) == [0, 1]
