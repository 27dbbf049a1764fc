"""Several processes sharing one per-target run (``protocol="molclr"``): each target is
trained once, under its own lock, and the leading run's result is the one-process result."""

from __future__ import annotations

import json
import logging
import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import molssl.finetune.run as run_module
from molssl.benchmark import runner
from molssl.benchmark.ledger import read_ledger
from molssl.benchmark.runner import benchmark
from molssl.contrastive.config import ConfigError
from molssl.contrastive.io.claims import CellClaims, Claim, _start_time
from molssl.contrastive.io.runlock import file_lock
from molssl.finetune import FinetuneConfig, finetune, join_finetune
from tests.finetune.per_target import TARGETS, TINY_ENCODER
from tests.finetune.per_target import CountingTrainModel as _Counting
from tests.finetune.per_target import per_target_config as _config
from tests.finetune.per_target import per_target_suite as _suite


@pytest.fixture
def whole(tmp_path, three_targets):
    """The same run in one process, start to end."""
    return finetune(_config(three_targets, tmp_path / "whole"))


def _records(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("target-*.json"))


def test_joining_trains_only_targets_nobody_holds(tmp_path, three_targets, whole, monkeypatch):
    out = tmp_path / "shared"
    out.mkdir()
    with file_lock(out / ".target-1.lock", wait=True):  # another process is on target 1
        trained = join_finetune(_config(three_targets, out))
    assert trained == ["tpsa", "half"]
    assert _records(out) == ["target-0.json", "target-2.json"]
    assert not (out / "result.json").exists()  # the leading run writes the outputs
    assert not (out / "config.yaml").exists()

    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    led = finetune(_config(three_targets, out, resume=True))
    assert counting.calls == 1  # target 1 only
    assert led.per_target == pytest.approx(whole.per_target, rel=1e-6)
    assert json.loads((out / "result.json").read_text())["value"] == pytest.approx(whole.value)


def test_join_with_nothing_left_trains_nothing(tmp_path, three_targets, monkeypatch):
    out = tmp_path / "done"
    finetune(_config(three_targets, out))
    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    assert join_finetune(_config(three_targets, out)) == []
    assert counting.calls == 0


def test_leader_waits_for_a_target_held_elsewhere(
    tmp_path, three_targets, whole, monkeypatch, caplog
):
    """The leader trains the free targets, waits for the held one; the holder here dies
    without a record, so the leader trains that target itself after the wait."""
    out = tmp_path / "wait"
    out.mkdir()
    held, stop = threading.Event(), threading.Event()

    def holder() -> None:
        with file_lock(out / ".target-0.lock", wait=True):
            held.set()
            deadline = time.monotonic() + 120
            while not (out / "target-2.json").exists() and time.monotonic() < deadline:
                if stop.wait(0.05):
                    break
            time.sleep(3.0)  # the leader is now waiting on target 0

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert held.wait(30)
    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    try:
        with caplog.at_level(logging.INFO, logger="molssl.finetune.run"):
            began = time.perf_counter()
            led = finetune(_config(three_targets, out))
            wall = time.perf_counter() - began
    finally:
        stop.set()
        thread.join(30)
    assert counting.calls == 3
    assert "target tpsa: being trained by another process" in caplog.text
    assert "target tpsa: waiting for the process training it" in caplog.text
    assert led.seconds < wall - 2.0  # the wait for the holder is not the run's time
    # target 0 trained last (after the other two) equals target 0 trained first
    assert led.per_target == pytest.approx(whole.per_target, rel=1e-6)


def _join_in_process(config: dict, queue) -> None:
    from molssl.contrastive.config import from_dict

    queue.put(join_finetune(from_dict(FinetuneConfig, config)))


def test_two_processes_train_each_target_once(tmp_path, three_targets, whole, monkeypatch):
    from molssl.contrastive.config import to_dict

    out = tmp_path / "pair"
    cfg = _config(three_targets, out)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    helper = ctx.Process(target=_join_in_process, args=(to_dict(cfg), queue))
    helper.start()
    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    try:
        led = finetune(cfg)
        joined = queue.get(timeout=300)
    finally:
        helper.join(60)
    assert helper.exitcode == 0
    assert counting.calls + len(joined) == 3  # every target trained exactly once
    assert _records(out) == ["target-0.json", "target-1.json", "target-2.json"]
    assert led.per_target == pytest.approx(whole.per_target, rel=1e-6)


def test_join_refuses_the_joint_protocol_and_no_folder(tmp_path, three_targets):
    with pytest.raises(ConfigError, match="--protocol molclr"):
        join_finetune(_config(three_targets, tmp_path / "j", protocol="joint"))
    with pytest.raises(ConfigError, match="--protocol molclr"):
        join_finetune(_config(three_targets, tmp_path / "j", out_dir=None))


def test_join_refuses_a_folder_with_other_settings(tmp_path, three_targets):
    out = tmp_path / "other"
    finetune(_config(three_targets, out))
    with pytest.raises(ConfigError, match="other settings"):
        join_finetune(_config(three_targets, out, epochs=3))


def _claim_for(out: Path, key: tuple, pid: int) -> None:
    """Write the claim a live process ``pid`` on this host would hold on ``key``."""
    claims = CellClaims(out)
    claims.me = Claim(pid, claims.me.host, time.time(), _start_time(pid))
    assert claims.claim(repr(key)) is None


def test_benchmark_helps_with_a_cell_another_process_holds(tmp_path, three_targets, monkeypatch):
    """A second ``benchmark`` on the same folder trains the targets of the cell the first one
    holds instead of moving on; the holder's run then only collects them."""
    out = tmp_path / "suite"
    cfg = _suite(three_targets, out)
    cell = runner.Cell(runner.csv_task_name(cfg), runner.parse_method("random-init"), 0)
    key = (cell.task, "random-init", 0, runner._cell_hash(cell, cfg))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        _claim_for(out, key, other.pid)  # the live process `other` holds the only cell
        helped = benchmark(cfg)
        assert helped.ran == 0 and helped.skipped == 1 and helped.helped == 1
        assert len(read_ledger(out / "results.csv")) == 0  # the holder writes the row
        cells = list((out / "cells").iterdir())
        assert len(cells) == 1
        assert _records(cells[0]) == ["target-0.json", "target-1.json", "target-2.json"]
    finally:
        other.kill()
        other.wait()

    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    led = benchmark(cfg)  # the holder is gone, its claim stale: this run collects the targets
    assert led.ran == 1 and counting.calls == 0
    ledger = read_ledger(out / "results.csv")
    assert list(ledger["status"]) == ["ok"]
    assert list(ledger["config_hash"]) == [key[3]]


def test_benchmark_leaves_a_joint_cell_to_its_holder(tmp_path, three_targets, monkeypatch):
    out = tmp_path / "joint"
    cfg = _suite(three_targets, out)
    cfg.finetune = {"epochs": 2, "encoder": TINY_ENCODER}  # one model: nothing to share
    cell = runner.Cell(runner.csv_task_name(cfg), runner.parse_method("random-init"), 0)
    key = (cell.task, "random-init", 0, runner._cell_hash(cell, cfg))
    counting = _Counting()
    monkeypatch.setattr(run_module, "train_model", counting)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        _claim_for(out, key, other.pid)
        result = benchmark(cfg)
    finally:
        other.kill()
        other.wait()
    assert result.ran == 0 and result.skipped == 1 and result.helped == 0
    assert counting.calls == 0


def test_cli_join_then_lead(tmp_path, three_targets, capsys):
    from molssl.cli import main

    out = tmp_path / "cli"
    args = [
        "finetune",
        "--csv",
        three_targets,
        "--targets",
        ",".join(TARGETS),
        "--task-type",
        "regression",
        "--protocol",
        "molclr",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--set",
        "encoder={num_layers: 2, hidden_channels: 16, out_channels: 16}",
    ]
    assert main([*args, "--join"]) == 0
    assert "trained 3 target(s) for the run in" in capsys.readouterr().out
    assert main([*args, "--join"]) == 0
    assert "none was left to train" in capsys.readouterr().out
    assert main([*args, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "test rmse" in printed and "finished before" not in printed
    assert (out / "result.json").is_file()
    assert main([*args, "--join", "--ensemble", "2"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    joint = [a if a != "molclr" else "joint" for a in args]
    assert main([*joint, "--out", str(tmp_path / "joint"), "--join"]) == 2
    assert "--protocol molclr" in capsys.readouterr().err
