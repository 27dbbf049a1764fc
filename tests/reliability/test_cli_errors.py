"""Every user mistake on the command line ends in one line naming the flag and the fix.

Each case below would otherwise end in a traceback (or, for ``--batch-size 1``, train on a
loss of exactly 0 and exit 0). Messages name the command-line flag, and unknown names suggest
the closest valid one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from molssl.data import embedded_smiles_path

TINY = [
    "--set",
    "encoder.num_layers=1",
    "--set",
    "encoder.hidden_channels=8",
    "--set",
    "encoder.out_channels=8",
    "--set",
    "encoder.proj_dim=4",
    "--set",
    "trainer.progress=false",
    "--max-steps",
    "1",
]


def run_cli(main: Callable[[list[str]], int], argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and the last stderr line of ``main(argv)`` (argparse's exits included)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    lines = capsys.readouterr().err.strip().splitlines()
    return code, lines[-1] if lines else ""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "small.smi"
    path.write_text("".join(embedded_smiles_path().read_text().splitlines(True)[:40]))
    return path


@pytest.fixture(scope="module")
def stores(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A store with the iMolCLR extras and one built with ``--no-extras`` (40 molecules)."""
    from molssl.cli import main

    root = tmp_path_factory.mktemp("stores")
    assert main(["featurize", str(corpus), "-o", str(root / "full")]) == 0
    assert main(["featurize", str(corpus), "-o", str(root / "bare"), "--no-extras"]) == 0
    return {"full": root / "full", "bare": root / "bare"}


PRETRAIN_MISTAKES = [
    # (extra argv, store, text the one line must contain)
    (["--batch-size", "-4"], "full", "--batch-size"),
    (["--epochs", "0"], "full", "--epochs"),
    (["--max-steps", "0"], "full", "--max-steps"),
    (["--lr", "0"], "full", "--lr"),
    (["--workers", "-1"], "full", "--workers"),
    (["--batch-size", "1"], "full", "--batch-size 1"),
    (["--batch-size", "1000"], "full", "--batch-size 1000 is larger than the 38"),
    (["--batch-size", "8", "--set", "objective.temperature=0"], "full", "objective.temperature"),
    (["--batch-size", "8", "--set", "objective.name=imolclr"], "bare", "--no-extras"),
    (["--set", "trainer.lr=["], "full", "not valid YAML"),
    (["--set", "trainer.lr"], "full", "KEY=VALUE"),
    (["--set", "trainer.lrr=1"], "full", "did you mean 'trainer.lr'?"),
    (["--set", "traner.lr=1"], "full", "did you mean 'trainer.lr'?"),
    (["--set", "objective.name=imolcl"], "full", "did you mean 'imolclr'?"),
    (["--set", "trainer.batch_size=-4"], "full", "batch_size must be >= 1"),
]


@pytest.mark.parametrize(("extra", "store", "expected"), PRETRAIN_MISTAKES)
def test_pretrain_mistakes_are_one_line(extra, store, expected, stores, tmp_path, capsys) -> None:
    from molssl.cli import main

    out = tmp_path / "run"
    argv = ["pretrain", "--data", str(stores[store]), "--out", str(out), "--device", "cpu"]
    code, line = run_cli(main, [*argv, *TINY, *extra], capsys)
    assert code == 2
    assert line.startswith("molssl pretrain: error:") and expected in line, line
    assert not (out / "last.pt").exists()  # refused before training


def test_batch_size_two_still_trains(stores, tmp_path, capsys) -> None:
    """The smallest contrastive batch is allowed (the refusal of 1 is not off by one)."""
    from molssl.cli import main

    argv = ["pretrain", "--data", str(stores["full"]), "--out", str(tmp_path), "--device", "cpu"]
    code, _ = run_cli(main, [*argv, *TINY, "--batch-size", "2"], capsys)
    assert code == 0 and (tmp_path / "last.pt").is_file()


def test_config_file_batch_size_one_is_refused(stores, tmp_path, capsys) -> None:
    from molssl.cli import main

    config = tmp_path / "one.yaml"
    config.write_text("trainer:\n  batch_size: 1\n")
    argv = ["pretrain", "--config", str(config), "--data", str(stores["full"])]
    code, line = run_cli(main, [*argv, "--out", str(tmp_path / "run"), *TINY], capsys)
    assert code == 2 and "at least 2 molecules per batch" in line, line


def test_malformed_yaml_config_is_one_line(tmp_path, capsys) -> None:
    from molssl.cli import main

    config = tmp_path / "bad.yaml"
    config.write_text("trainer: {batch_size: [\n")
    code, line = run_cli(main, ["pretrain", "--config", str(config)], capsys)
    assert code == 2 and f"{config} is not valid YAML" in line, line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [
                "embed",
                "--checkpoint",
                "x.pt",
                "--input",
                "x.smi",
                "-o",
                "e.npy",
                "--batch-size",
                "0",
            ],
            "--batch-size",
        ),
        (["featurize", "x.smi", "-o", "S", "--workers", "0"], "--workers"),
        (["featurize", "x.smi", "-o", "S", "--shard-size", "-1"], "--shard-size"),
        (["finetune", "--task", "bbbp", "--epochs", "0"], "--epochs"),
        (["finetune", "--task", "bbbbp"], "did you mean 'bbbp'?"),
        (["finetune", "--task", "bbbp", "--set", "epoch=1"], "did you mean 'epochs'?"),
        (
            ["benchmark", "--tasks", "bbbp", "--methods", "random-init,ecfp-f"],
            "did you mean 'ecfp-rf'?",
        ),
        (["featurize", "x.smi", "-o", "S", "--featurizer", "rihc"], "did you mean 'rich'?"),
        (
            ["finetune", "--task", "bbbp", "--init", "molclr-gcm:x.pth"],
            "did you mean 'molclr-gcn'?",
        ),
        (
            ["finetune", "--task", "esol", "--profle", "full"],
            "molssl finetune: error: unrecognized argument: --profle (did you mean --profile?)",
        ),
        (
            ["predict", "--modle", "m.pt"],  # before "the following arguments are required"
            "unrecognized argument: --modle (did you mean --model?)",
        ),
        (
            ["finetune", "--task", "esol", "--sed=3", "--bogus"],
            "unrecognized arguments: --sed (did you mean --seed?), --bogus",
        ),
        (["featurize", "x.smi", "y.smi", "-o", "S"], "molssl featurize: error: unrecognized"),
    ],
)
def test_molssl_usage_mistakes(argv, expected, tmp_path, capsys, monkeypatch) -> None:
    from molssl.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.smi").write_text("CCO\n")
    code, line = run_cli(main, argv, capsys)
    assert code == 2 and expected in line, line
    assert "Traceback" not in line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pretrain", "--method", "rotatoin"], "did you mean 'rotation'?"),
        (["pretrain", "--method", "simclr", "--batch-size", "1"], "--batch-size 1"),
        (["pretrain", "--batch-size", "0"], "--batch-size"),
        (["pretrain", "--batch-size", "100000"], "--batch-size 100000 is larger than the"),
        (["pretrain", "--set", "simclr.temprature=0.5"], "did you mean 'simclr.temperature'?"),
        (["eval", "--checkpoint", "x.pt", "--epochs", "0"], "--epochs"),
        (
            ["pretrain", "--metod", "simclr"],
            "unrecognized argument: --metod (did you mean --method?)",
        ),
    ],
)
def test_imagessl_usage_mistakes(argv, expected, tmp_path, capsys) -> None:
    from imagessl.cli import main

    if argv[0] == "pretrain":  # should it start anyway, one step on a tiny encoder
        argv = [
            *argv,
            "--out",
            str(tmp_path),
            "--max-steps",
            "1",
            "--device",
            "cpu",
            "--set",
            "encoder.name=convnet",
            "--set",
            "encoder.width=4",
        ]
    code, line = run_cli(main, argv, capsys)
    assert code == 2 and expected in line, line
    assert not (tmp_path / "last.pt").exists()


@pytest.mark.parametrize("damage", ["truncated", "not-gzip", "not-utf8"])
def test_damaged_gz_corpus_is_one_line(damage: str, corpus: Path, tmp_path: Path, capsys) -> None:
    import gzip

    from molssl.cli import main

    data = gzip.compress(corpus.read_bytes() * 20)
    bad = tmp_path / "corpus.smi.gz"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "not-gzip":
        bad.write_bytes(b"plain text, not gzip\n")
    else:
        bad.write_bytes(gzip.compress(b"CCO\n\xff\xfe\n"))
    code, line = run_cli(main, ["featurize", str(bad), "-o", str(tmp_path / "store")], capsys)
    assert code == 2 and line.startswith(f"molssl featurize: error: {bad} cannot be read"), line


def test_existing_run_is_refused_before_building_a_store(corpus, tmp_path, capsys) -> None:
    from molssl.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"an earlier run")
    argv = ["pretrain", "--data", str(corpus), "--out", str(out), "--batch-size", "8", *TINY]
    code, line = run_cli(main, argv, capsys)
    assert code == 2 and "--resume" in line and "--out" in line, line
    assert sorted(p.name for p in out.iterdir()) == ["last.pt"]  # no store built, nothing lost
