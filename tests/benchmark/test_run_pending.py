"""``benchmarks/run_pending.sh``: the queue of open measurements names real scripts and flags."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "run_pending.sh"


def _steps(part: str) -> list[list[str]]:
    out = subprocess.run(
        ["bash", str(SCRIPT), part, "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    lines = [line.split("] ", 1)[1] for line in out.splitlines() if line.startswith("[")]
    assert lines[-1] == f"part {part}: nothing left"
    return [line.split() for line in lines[:-1]]


@pytest.mark.parametrize("part", ["a", "b"])
def test_every_step_is_a_script_with_those_flags(part: str) -> None:
    steps = _steps(part)
    assert steps, "no steps"
    for step in steps:
        script = ROOT / step[0]
        assert script.is_file(), step
        source = script.read_text()
        for flag in (t for t in step[1:] if t.startswith("--")):
            assert re.search(rf'"{re.escape(flag)}"', source), f"{step[0]} has no {flag}"


def test_only_part_b_pretrains_and_a_wrong_part_is_refused() -> None:
    assert not any("--pretrain-only" in step for step in _steps("a"))
    assert any("--pretrain-only" in step for step in _steps("b"))
    done = subprocess.run(["bash", str(SCRIPT), "c"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage" in done.stderr
