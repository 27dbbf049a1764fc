"""``benchmarks/_shared.py``: one lookup order for the shared data, one clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import _shared

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = (
    "augment",
    "budget_curve",
    "featurize",
    "inference_throughput",
    "loss",
    "moleculenet",
    "pretrain_throughput",
    "search",
    "uncertainty",
)


@pytest.fixture
def no_default(monkeypatch, tmp_path):
    """No env vars, and ``../shared/data`` pointed at an empty folder."""
    monkeypatch.delenv("MOLSSL_SHARED_DATA", raising=False)
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    monkeypatch.setattr(_shared, "DEFAULT_SHARED", tmp_path / "default")
    return tmp_path


def test_shared_data_wins_then_data_dir_then_the_folder_beside_the_repo(no_default, monkeypatch):
    root = no_default
    for folder in ("a/moleculenet", "a/pretrain", "b/mnet", "b/pretrain", "default/moleculenet"):
        (root / folder).mkdir(parents=True)
    monkeypatch.setattr(_shared, "DEFAULT_SHARED", root / "default")
    assert _shared.moleculenet_dir() == root / "default" / "moleculenet"

    monkeypatch.setenv("MOLSSL_DATA_DIR", str(root / "b" / "mnet"))
    assert _shared.moleculenet_dir() == root / "b" / "mnet"  # the datasets folder itself
    assert _shared.pretrain_dir() == root / "b" / "pretrain"  # beside it

    monkeypatch.setenv("MOLSSL_SHARED_DATA", str(root / "a"))
    assert _shared.moleculenet_dir() == root / "a" / "moleculenet"
    assert _shared.pretrain_dir() == root / "a" / "pretrain"
    # a folder the first place lacks comes from the next one
    with pytest.raises(_shared.SharedDataError):
        _shared.checkpoints_dir()
    (root / "default" / "checkpoints").mkdir()
    assert _shared.checkpoints_dir() == root / "default" / "checkpoints"


def test_nothing_found_is_one_error_naming_the_variable_and_the_folder(no_default) -> None:
    with pytest.raises(_shared.SharedDataError) as err:
        _shared.pretrain_dir()
    message = str(err.value)
    assert "MOLSSL_SHARED_DATA" in message
    assert str(no_default / "default" / "pretrain") in message
    assert isinstance(err.value, FileNotFoundError)


def test_a_script_without_shared_data_ends_in_one_line(tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MOLSSL_SHARED_DATA": str(tmp_path / "absent"),
        "HOME": str(tmp_path),
    }
    script = tmp_path / "repo" / "benchmarks"
    script.mkdir(parents=True)  # a checkout with no ../shared/data beside it
    for name in ("_shared.py", "featurize.py"):
        (script / name).write_text((ROOT / "benchmarks" / name).read_text())
    done = subprocess.run(
        [sys.executable, str(script / "featurize.py"), "--n", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "featurize.py: error:" in done.stderr and "MOLSSL_SHARED_DATA" in done.stderr


def test_no_script_keeps_its_own_lookup() -> None:
    for name in SCRIPTS:
        source = (ROOT / "benchmarks" / f"{name}.py").read_text()
        assert "from _shared import" in source, name
        assert 'environ.get("MOLSSL_SHARED_DATA"' not in source, name
        assert "/work/shared" not in source and '"shared" / "data"' not in source, name
