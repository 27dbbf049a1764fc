"""``imagessl pretrain`` / ``imagessl eval`` end to end on digits with a tiny encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from imagessl.cli import main
from molssl.contrastive.io.checkpoint import load_checkpoint

METHODS = [
    "simclr",
    "rotation",
    "relpatch",
    "jigsaw",
    "inpainting",
    "colorization",
    "cpc",
    "moco",
    "byol",
    "swav",
]
SMALL = ["--data", "digits", "--batch-size", "16", "--device", "cpu", "--set", "data.limit=64"]


@pytest.mark.parametrize("method", METHODS)
def test_pretrain_one_epoch_every_method(method: str, tmp_path: Path, tiny_args: list[str]) -> None:
    extra = {
        "relpatch": ["--set", "relpatch.resize=48", "--set", "relpatch.hidden_dim=32"],
        "jigsaw": [
            "--set",
            "jigsaw.candidates=2000",
            "--set",
            "jigsaw.hidden_dim=32",
            "--set",
            "jigsaw.resize=48",
        ],
        "cpc": ["--set", "encoder.norm=layer", "--set", "cpc.context_dim=16"],
        "moco": ["--set", "moco.queue_size=24"],
        "swav": ["--set", "swav.queue_size=32", "--set", "swav.num_prototypes=10"],
    }.get(method, [])
    out = tmp_path / method
    code = main(
        ["pretrain", "--method", method, "--epochs", "1", "--out", str(out)]
        + SMALL
        + tiny_args
        + extra
    )
    assert code == 0
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 4 and ckpt["config"]["method"] == method
    assert ckpt["imagessl"]["image_size"] == 32
    assert (out / "metrics.csv").is_file() and (out / "config.yaml").is_file()


@pytest.mark.parametrize("method", ["simclr", "moco"])
def test_resume_matches_an_uninterrupted_run(
    method: str, tmp_path: Path, tiny_args: list[str]
) -> None:
    base = ["pretrain", "--method", method, "--epochs", "2"] + SMALL + tiny_args
    base += ["--set", "moco.queue_size=40"]  # wraps around within the run (8 steps x 16)
    assert main([*base, "--out", str(tmp_path / "full")]) == 0
    assert main([*base, "--out", str(tmp_path / "cut"), "--max-steps", "3"]) == 0
    assert main([*base, "--out", str(tmp_path / "cut"), "--resume"]) == 0
    full = load_checkpoint(tmp_path / "full" / "last.pt")
    cut = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert full["step"] == cut["step"] == 8
    assert full["state_dict"].keys() == cut["state_dict"].keys()
    for key, value in full["state_dict"].items():
        assert torch.equal(value, cut["state_dict"][key]), key
    if method == "moco":  # the target network and the queue travel in the checkpoint
        state = full["state_dict"]
        assert int(state["queue.filled"]) == 40 and int(state["queue.ptr"]) == 128 % 40
        online, target = (
            state["online.encoder.net.0.0.weight"],
            state["target.network.encoder.net.0.0.weight"],
        )
        assert not torch.equal(online, target)


def test_linear_probe_beats_chance_after_short_simclr(
    tmp_path: Path, pretrain_digits, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = pretrain_digits(tmp_path / "run", "simclr", limit=512, batch_size=64)
    capsys.readouterr()
    for protocol in ("linear", "knn"):
        assert main(["eval", "--checkpoint", ckpt, "--protocol", protocol, "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["num_test"] == 359 and result["num_train"] == 512
        assert result["accuracy"] > (0.3 if protocol == "linear" else 0.15), result  # chance: 0.1


def test_bad_inputs_are_reported(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pretrain", "--method", "rotnet", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'rotnet'" in err and "jigsaw" in err
    (tmp_path / "empty").mkdir()
    assert main(["pretrain", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "y")]) == 2
    assert "no images found" in capsys.readouterr().err
    assert main(["pretrain", "--set", "trainer.nope=1", "--out", str(tmp_path / "z")]) == 2
    assert "unknown key" in capsys.readouterr().err
    not_a_ckpt = tmp_path / "bad.pt"
    not_a_ckpt.write_bytes(b"junk")
    assert main(["eval", "--checkpoint", str(not_a_ckpt)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


def test_preset_loads(tmp_path: Path) -> None:
    from imagessl.config import load_pretrain_config

    root = Path(__file__).resolve().parents[2] / "configs"
    for preset in sorted(root.glob("simclr_*.yaml")) + sorted(root.glob("imagessl_*.yaml")):
        cfg = load_pretrain_config(preset)
        assert cfg.method in METHODS
