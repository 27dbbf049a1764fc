"""benchmarks/moleculenet.py: a run whose only method has no checkpoint ends in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_method_left_is_one_line_not_a_traceback(tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "moleculenet.py"),
            "--methods",
            "ours-imolclr",
            "--ckpt-imolclr",
            str(tmp_path / "absent.pt"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert "skipping ours-imolclr" in done.stdout
    assert "no method left to run" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_ours_checkpoints_default_to_the_committed_snapshot_where_there_is_one(
    tmp_path, monkeypatch
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("mnet", ROOT / "benchmarks" / "moleculenet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(tmp_path)  # paths are relative to the repository root
    committed = Path("benchmarks/snapshots/imolclr_passes_1000448.pt")
    committed.parent.mkdir(parents=True)
    committed.write_bytes(b"x")
    assert module.snapshot("imolclr") == str(committed)
    assert module.snapshot("molclr") == "runs/budget_curve/molclr/snapshots/passes_1000448.pt"
