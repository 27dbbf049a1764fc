"""``--help`` and usage errors import no torch; ``--device cuda`` without CUDA fails up front.

Importing torch for ``molssl --help`` or a usage error costs 17-50 s on a loaded 2-core
machine; ``--device cuda`` on a machine without CUDA must fail before minutes of loading
(``finetune``) and without torch's raw driver error (``embed``).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torch_geometric", "rdkit", "sklearn", "numpy")


def _heavy_after(program: str, argv: list[str]) -> tuple[int, list[str], str]:
    code = (
        "import sys\n"
        f"from {program}.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    status = exc.code\n"
        "else:\n"
        "    status = 0\n"
        f"print(status, [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    status, _, modules = result.stdout.strip().splitlines()[-1].partition(" ")
    return int(status), ast.literal_eval(modules), result.stderr


@pytest.mark.parametrize(
    ("program", "argv", "status"),
    [
        ("molssl", ["--help"], 0),
        ("molssl", ["pretrain", "--help"], 0),
        ("molssl", ["finetune", "--help"], 0),
        ("molssl", ["pretrain", "--batch-size", "-4"], 2),
        ("molssl", ["embed", "--input", "x.smi"], 2),
        ("molssl", ["no-such-command"], 2),
        ("imagessl", ["--help"], 0),
        ("imagessl", ["pretrain", "--help"], 0),
        ("imagessl", ["eval", "--protocol", "nope", "--checkpoint", "x"], 2),
    ],
)
def test_parsing_imports_no_torch(program: str, argv: list[str], status: int) -> None:
    code, heavy, stderr = _heavy_after(program, argv)
    assert code == status, stderr
    assert heavy == [], f"{program} {' '.join(argv)} imported {heavy}"


def test_imagessl_help_lists_every_registered_method() -> None:
    from imagessl.config import METHOD_NAMES
    from imagessl.methods import METHODS

    assert sorted(METHOD_NAMES) == sorted(METHODS)


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.mark.parametrize(
    ("program", "argv"),
    [
        ("molssl", ["pretrain", "--device", "cuda"]),
        ("molssl", ["finetune", "--task", "bbbp", "--device", "cuda"]),
        ("molssl", ["benchmark", "--tasks", "bbbp", "--device", "cuda"]),
        (
            "molssl",
            [
                "embed",
                "--checkpoint",
                "x.pt",
                "--input",
                "x.smi",
                "-o",
                "e.npy",
                "--device",
                "cuda",
            ],
        ),
        (
            "molssl",
            ["embed", "--checkpoint", "x.pt", "--input", "x.smi", "-o", "e.npy", "--device", "gpu"],
        ),
        ("imagessl", ["pretrain", "--device", "cuda"]),
        ("imagessl", ["eval", "--checkpoint", "x.pt", "--device", "cuda"]),
    ],
)
def test_cuda_without_cuda_fails_before_any_work(
    program, argv, no_cuda, tmp_path, capsys, monkeypatch
) -> None:
    import importlib

    monkeypatch.chdir(tmp_path)
    main = importlib.import_module(f"{program}.cli").main
    assert (
        main(
            [*argv, "--out", "out"]
            if "--out" not in argv and argv[0] in ("pretrain", "finetune", "benchmark")
            else argv
        )
        == 2
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"{program} {argv[0]}: error: --device"), line
    assert "cpu" in line
    assert list(tmp_path.iterdir()) == []  # nothing loaded, built or written


def test_device_in_a_config_file_is_checked_before_the_store(no_cuda, tmp_path, capsys) -> None:
    from molssl.cli import main

    config = tmp_path / "gpu.yaml"
    config.write_text("trainer:\n  device: cuda\n  batch_size: 8\n")
    smi = tmp_path / "x.smi"
    smi.write_text("CCO\nCCN\n")
    argv = ["pretrain", "--config", str(config), "--data", str(smi), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
