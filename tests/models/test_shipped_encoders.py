"""Encoders released inside the package: ``molssl:NAME``, their model cards and ``molssl models``.

A tiny GIN is pretrained for two steps by ``molssl pretrain`` and released by
``benchmarks/release_encoder.py`` into a temporary folder that ``$MOLSSL_PRETRAINED_DIR`` points
to; the packaging test checks the package's own ``molssl/pretrained/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import tomllib
import torch

from benchmarks.release_encoder import ledger_benchmark
from benchmarks.release_encoder import main as release_main
from molssl.cli import main
from molssl.contrastive.config import ConfigError
from molssl.contrastive.io.digest import file_sha256
from molssl.data import embedded_smiles_path
from molssl.models.pretrained import CorruptEncoderError, LoadedEncoder, load_pretrained
from molssl.models.shipped import (
    ENV_DIR,
    PACKAGE_DIR,
    SIZE_BUDGET_BYTES,
    UnknownEncoderError,
    card_gaps,
    read_card,
    shipped_names,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--set",
    "encoder.num_layers=2",
    "--set",
    "encoder.hidden_channels=16",
    "--set",
    "encoder.out_channels=16",
    "--set",
    "encoder.proj_dim=8",
    "--set",
    "trainer.warmup_epochs=1",
    "--set",
    "trainer.progress=false",
    "--device",
    "cpu",
]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(last.pt, corpus)`` of 2 molclr steps (batch 16) of a tiny GIN on 64 molecules."""
    root = tmp_path_factory.mktemp("tiny_pretrain")
    corpus = root / "corpus.smi"
    corpus.write_text("\n".join(embedded_smiles_path().read_text().splitlines()[:64]) + "\n")
    argv = [
        "pretrain",
        "--data",
        str(corpus),
        "--out",
        str(root / "run"),
        "--batch-size",
        "16",
        "--max-steps",
        "2",
        "--epochs",
        "2",
        "--set",
        "data.valid_size=0.1",
        *TINY,
    ]
    assert main(argv) == 0
    return root / "run" / "last.pt", corpus


@pytest.fixture(scope="module")
def releases(pretrained: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A releases folder with ``tiny-gin`` (float16) and ``tiny-gin32`` (float32)."""
    last, corpus = pretrained
    out = tmp_path_factory.mktemp("releases")
    common = [
        str(last),
        "--out",
        str(out),
        "--corpus",
        str(corpus),
        "--machine",
        "test CPU",
        "--wall-time-s",
        "3.5",
    ]
    assert release_main([*common, "--name", "tiny-gin"]) == 0
    assert release_main([*common, "--name", "tiny-gin32", "--float32"]) == 0
    return out


@pytest.fixture
def shipped(releases: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_DIR, str(releases))
    return releases


@pytest.fixture
def damaged(releases: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the releases whose ``tiny-gin.pt`` has one byte flipped."""
    copy = tmp_path / "damaged"
    shutil.copytree(releases, copy)
    data = bytearray((copy / "tiny-gin.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "tiny-gin.pt").write_bytes(bytes(data))
    monkeypatch.setenv(ENV_DIR, str(copy))
    return copy / "tiny-gin.pt"


def _last_err_line(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_the_release_holds_encoder_weights_only_and_a_complete_card(pretrained, releases) -> None:
    last, corpus = pretrained
    saved = torch.load(releases / "tiny-gin.pt", map_location="cpu", weights_only=True)
    encoder = load_pretrained(f"ckpt:{last}").encoder
    assert set(saved["state_dict"]) == set(encoder.state_dict())  # no head of the objective
    assert saved["optimizer"] is None and saved["rng"] is None
    floats = [v for v in saved["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    card = read_card("tiny-gin", releases)
    header = card.header
    assert header["weights"]["sha256"] == file_sha256(releases / "tiny-gin.pt")
    assert header["weights"]["source_checkpoint_sha256"] == file_sha256(last)
    assert header["objective"]["name"] == "molclr"
    assert header["corpus"] == {
        **header["corpus"],
        "file": "corpus.smi",
        "sha256": file_sha256(corpus),
    }
    assert header["molecule_passes"] == 2 * 16 and header["schedule"]["steps"] == 2
    assert header["machine"] == "test CPU" and header["wall_time_s"] == 3.5
    assert card_gaps(card) == ["benchmark"]  # pasted from a ledger once it is measured
    half = (releases / "tiny-gin.pt").stat().st_size
    assert half < 0.75 * (releases / "tiny-gin32.pt").stat().st_size
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff:  # the package's cards go through `make lint`, which formats their code blocks
        done = subprocess.run(
            [ruff, "format", "--check", str(card.card_path)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_molssl_name_loads_the_released_weights(pretrained, shipped) -> None:
    original = load_pretrained(f"ckpt:{pretrained[0]}")
    exact = load_pretrained("molssl:tiny-gin32")
    half = load_pretrained("molssl:tiny-gin", dropout=0.3)
    assert exact.init == "molssl:tiny-gin32" and half.init == "molssl:tiny-gin"
    assert exact.featurizer.to_dict() == original.featurizer.to_dict()
    assert half.encoder.config.dropout == 0.3 and not half.encoder.training
    for key, value in original.encoder.state_dict().items():
        assert torch.equal(exact.encoder.state_dict()[key], value), key
        rounded = value.half().to(value.dtype) if value.is_floating_point() else value
        assert torch.equal(half.encoder.state_dict()[key], rounded), key
        assert half.encoder.state_dict()[key].dtype == value.dtype


def test_a_flipped_byte_is_refused_in_one_line_naming_both_hashes(damaged, capsys) -> None:
    expected = read_card("tiny-gin").weights_sha256
    with pytest.raises(CorruptEncoderError) as caught:
        load_pretrained("molssl:tiny-gin")
    assert str(damaged) in str(caught.value)
    assert (
        main(
            [
                "embed",
                "--checkpoint",
                "molssl:tiny-gin",
                "--input",
                str(embedded_smiles_path()),
                "-o",
                str(damaged.parent / "e.npy"),
            ]
        )
        == 2
    )
    (line,) = _last_err_line(capsys)
    for part in (str(damaged), expected, file_sha256(damaged), "reinstall molssl"):
        assert part in line, part


def test_a_release_without_its_card_is_one_line(releases, tmp_path, monkeypatch, capsys) -> None:
    copy = tmp_path / "rel"
    shutil.copytree(releases, copy)
    (copy / "tiny-gin.md").unlink()
    (copy / "tiny-gin32.md").write_text("no front matter\n")
    monkeypatch.setenv(ENV_DIR, str(copy))
    assert main(["finetune", "--task", "bbbp", "--init", "molssl:tiny-gin"]) == 2
    (line,) = _last_err_line(capsys)
    assert "has no model card" in line and "reinstall molssl" in line
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("unusable" in line for line in lines)


def test_an_unknown_name_lists_the_shipped_ones(shipped, tmp_path, monkeypatch, capsys) -> None:
    with pytest.raises(UnknownEncoderError, match="did you mean 'tiny-gin'") as caught:
        load_pretrained("molssl:tiny-gn")
    assert "molssl:tiny-gin, molssl:tiny-gin32" in str(caught.value)
    csv = tmp_path / "t.csv"
    csv.write_text("smiles,y\nCCO,1\n")
    assert (
        main(
            [
                "finetune",
                "--csv",
                str(csv),
                "--targets",
                "y",
                "--task-type",
                "regression",
                "--init",
                "molssl:nope",
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 2
    )
    (line,) = _last_err_line(capsys)
    assert "no released encoder molssl:nope" in line and "molssl:tiny-gin32" in line
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "empty"))
    with pytest.raises(UnknownEncoderError, match="none ships in"):
        load_pretrained("molssl:tiny-gin")
    with pytest.raises(ConfigError, match="need a name: write molssl:NAME"):
        load_pretrained("molssl:")


def test_molssl_models_lists_each_release_or_says_none(
    shipped, tmp_path, monkeypatch, capsys
) -> None:
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["molssl:tiny-gin", "molssl:tiny-gin32"]
    assert all("molclr" in line and "32 passes" in line and " MB" in line for line in lines)
    assert all(line.endswith("no benchmark recorded") for line in lines)
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "none"))
    assert main(["models"]) == 0
    assert capsys.readouterr().out.startswith("no pretrained encoder ships with this molssl")


def test_molssl_models_imports_no_torch(shipped) -> None:
    code = (
        "import sys\nfrom molssl.cli import main\nstatus = main(['models'])\n"
        "print(status, [m for m in ('torch', 'rdkit', 'numpy') if m in sys.modules])"
    )
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()
    assert last[0].startswith("molssl:tiny-gin") and last[-1] == "0 []"


def test_benchmark_methods_accept_a_release(shipped, capsys) -> None:
    from molssl.benchmark.methods import check_weights, finetune_config, parse_method
    from molssl.benchmark.runner import BenchmarkConfig
    from molssl.finetune import config_hash

    method = parse_method("tiny=molssl:tiny-gin")
    assert (method.label, method.kind, method.arg) == ("tiny", "molssl", "tiny-gin")
    cfg = BenchmarkConfig(tasks=["bbbp"], methods=["tiny=molssl:tiny-gin"])
    cell = finetune_config(method, "bbbp", 0, cfg)
    assert cell.init == "molssl:tiny-gin"
    check_weights([method])  # the SHA check runs before any cell
    other = finetune_config(parse_method("molssl:tiny-gin32"), "bbbp", 0, cfg)
    assert config_hash(cell, portable=True) != config_hash(other, portable=True)
    with pytest.raises(ConfigError, match="needs a name: molssl:NAME"):
        parse_method("molssl")
    with pytest.raises(UnknownEncoderError):
        check_weights([parse_method("molssl:nope")])


def test_finetune_init_and_estimators_accept_a_release(
    shipped, tpsa_table, tmp_path, capsys
) -> None:
    from molssl.finetune.estimators import MolPropertyRegressor
    from molssl.finetune.predictor import predict_file
    from molssl.finetune.saved import ModelFileError, load_model

    csv = tmp_path / "tpsa.csv"
    tpsa_table.iloc[:60][["smiles", "logtpsa"]].to_csv(csv, index=False)
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--csv",
                str(csv),
                "--targets",
                "logtpsa",
                "--task-type",
                "regression",
                "--init",
                "molssl:tiny-gin",
                "--epochs",
                "1",
                "--split",
                "random",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "(molssl:tiny-gin, seed 0" in capsys.readouterr().out
    assert load_model(out / "model.pt").info["init"] == "molssl:tiny-gin"
    smiles, y = tpsa_table["smiles"].iloc[:24].tolist(), tpsa_table["logtpsa"].iloc[:24]
    est = MolPropertyRegressor(init="molssl:tiny-gin", epochs=1, batch_size=8).fit(smiles, y)
    assert est.predict(smiles[:3]).shape == (3,)
    loaded = load_model("molssl:tiny-gin")
    assert isinstance(loaded, LoadedEncoder) and loaded.init == "molssl:tiny-gin"
    assert not loaded.encoder.training
    direct = load_pretrained("molssl:tiny-gin").encoder.state_dict()
    assert all(torch.equal(v, direct[k]) for k, v in loaded.encoder.state_dict().items())
    with pytest.raises(ModelFileError, match=r"released encoder.*finetune --init"):
        predict_file("molssl:tiny-gin", csv, tmp_path / "p.csv")
    capsys.readouterr()
    argv = ["predict", "--model", "molssl:tiny-gin", "--input", str(csv), "--out", "p.csv"]
    assert main(argv) == 2
    assert "is a released encoder, not a fine-tuned model" in capsys.readouterr().err


def _ledger(folder: Path) -> Path:
    rows = [
        ("BBBP", "tiny", 0, 0.70),
        ("BBBP", "tiny", 1, 0.80),
        ("BBBP", "random-init", 0, 0.60),
        ("BBBP", "random-init", 1, 0.62),
        ("ESOL", "tiny", 0, 1.10),
        ("ESOL", "random-init", 0, 1.30),
    ]
    metric = {"BBBP": "roc_auc", "ESOL": "rmse"}
    folder.mkdir()
    pd.DataFrame(
        [
            {"task": t, "method": m, "seed": s, "metric": metric[t], "value": v, "status": "ok"}
            for t, m, s, v in rows
        ]
    ).to_csv(folder / "results.csv", index=False)
    return folder


def test_the_benchmark_table_is_pasted_from_a_ledger(
    releases, tmp_path, monkeypatch, capsys
) -> None:
    copy = tmp_path / "rel"
    shutil.copytree(releases, copy)
    ledger = _ledger(tmp_path / "ledger")
    bench = ledger_benchmark(
        ledger, "tiny", command="molssl benchmark --methods tiny=molssl:tiny-gin"
    )
    assert bench["rows"][0] == {
        "task": "BBBP",
        "metric": "roc_auc",
        "mean": 0.75,
        "std": 0.0707,
        "n": 2,
        "baseline_mean": 0.61,
        "baseline_std": 0.0141,
    }
    assert bench["summary"] == (
        "mean ROC-AUC 0.750 over 1 tasks (random-init 0.610); "
        "mean RMSE 1.100 over 1 tasks (random-init 1.300)"
    )
    with pytest.raises(ConfigError, match="did you mean 'tiny'"):
        ledger_benchmark(ledger, "tinny")
    weights = file_sha256(copy / "tiny-gin.pt")
    assert (
        release_main(
            [
                "--name",
                "tiny-gin",
                "--out",
                str(copy),
                "--ledger",
                str(ledger),
                "--method",
                "tiny",
                "--command",
                "molssl benchmark ...",
            ]
        )
        == 0
    )
    text = (copy / "tiny-gin.md").read_text()
    assert "| BBBP | roc_auc | 0.750 ± 0.071 (n=2) | 0.610 ± 0.014 |" in text
    monkeypatch.setenv(ENV_DIR, str(copy))
    card = read_card("tiny-gin")
    assert card_gaps(card) == [] and card.weights_sha256 == weights
    assert card.header["benchmark"]["command"] == "molssl benchmark ..."
    load_pretrained("molssl:tiny-gin")  # the file is untouched, its SHA still matches
    assert main(["models"]) == 0
    assert "mean ROC-AUC 0.750 over 1 tasks" in capsys.readouterr().out


def test_the_release_script_refuses_in_one_line(pretrained, releases, tmp_path, capsys) -> None:
    last = str(pretrained[0])
    assert release_main([last, "--name", "tiny-gin", "--out", str(releases)]) == 2
    (line,) = _last_err_line(capsys)
    assert "exists" in line and "tiny-gin.pt" in line
    assert release_main([last, "--name", "Bad:Name", "--out", str(tmp_path)]) == 2
    (line,) = _last_err_line(capsys)
    assert "release name 'Bad:Name' is not allowed" in line
    assert release_main(["--name", "tiny-gin", "--ledger", str(tmp_path)]) == 2
    assert "--ledger DIR and --method LABEL together" in _last_err_line(capsys)[0]


def test_the_package_ships_at_most_12_mb_each_release_with_a_verified_card() -> None:
    total = sum(p.stat().st_size for p in PACKAGE_DIR.glob("*.pt"))
    assert total <= SIZE_BUDGET_BYTES, f"molssl/pretrained/*.pt take {total / 1e6:.1f} MB"
    for name in shipped_names(PACKAGE_DIR):
        card = read_card(name, PACKAGE_DIR)
        assert card_gaps(card) == [], f"{card.card_path} leaves {card_gaps(card)} empty"
        assert card.weights_sha256 == file_sha256(card.weights_path), card.card_path
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {"pretrained/*.pt", "pretrained/*.md"} <= set(package_data["package-data"]["molssl"])
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "molssl/pretrained/x.pt"], cwd=REPO_ROOT, capture_output=True
    )
    assert ignored.returncode == 1, "git ignores molssl/pretrained/*.pt"


def test_the_help_texts_name_the_release_kind() -> None:
    from molssl.cli import build_parser
    from molssl.models.pretrained import GRAMMAR

    assert "molssl:NAME" in GRAMMAR
    subparsers = build_parser()._subparsers._group_actions[0].choices
    for command, dest in (("finetune", "init"), ("embed", "checkpoint"), ("benchmark", "methods")):
        (action,) = [a for a in subparsers[command]._actions if a.dest == dest]
        assert "molssl:NAME" in action.help, command
    assert "molssl:NAME" in subparsers["models"].description


def test_notes_are_rendered_and_survive_a_pasted_table(
    pretrained, releases, tmp_path, monkeypatch
) -> None:
    last, corpus = pretrained
    notes = tmp_path / "made.md"
    notes.write_text("\ufeff## How it was made\n\n- two steps of 16 on 64 molecules\n")
    out = tmp_path / "rel"
    argv = [str(last), "--name", "noted", "--out", str(out), "--corpus", str(corpus)]
    assert release_main([*argv, "--machine", "test CPU", "--notes", str(notes)]) == 0
    card = out / "noted.md"
    text = card.read_text().split("\n---\n", 1)[1]  # the body, after the front matter
    assert text.index("Not benchmarked yet.") < text.index("## How it was made\n\n- two steps")
    monkeypatch.setenv(ENV_DIR, str(out))
    assert read_card("noted").header["notes"].startswith("## How it was made")  # no BOM

    ledger = _ledger(tmp_path / "ledger")  # a table pasted later keeps the notes
    paste = ["--name", "noted", "--out", str(out), "--ledger", str(ledger), "--method", "tiny"]
    assert release_main(paste) == 0
    text = card.read_text().split("\n---\n", 1)[1]
    assert text.index("| BBBP | roc_auc | 0.750") < text.index("- two steps of 16 on 64 molecules")

    notes.write_text("Replaced.\n")  # --notes alone replaces them and keeps the table
    assert release_main(["--name", "noted", "--out", str(out), "--notes", str(notes)]) == 0
    text = card.read_text()
    assert "Replaced." in text and "two steps" not in text and "| BBBP | roc_auc" in text
    assert release_main(["--name", "noted", "--out", str(out), "--notes", str(tmp_path / "x")]) == 2
    assert read_card("noted").weights_sha256 == file_sha256(out / "noted.pt")
