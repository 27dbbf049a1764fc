"""The one weights grammar and loader: ckpt:PATH / PATH, molclr-*:PATH, random."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from molssl.contrastive.config import to_dict
from molssl.contrastive.io.checkpoint import CheckpointError, save_checkpoint
from molssl.featurize import MolGraphFeaturizer
from molssl.models import EncoderConfig, MolEncoder
from molssl.models.pretrained import load_pretrained, parse_weights

TINY = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("random", ("random", None)),
        ("random:gcn", ("random", "gcn")),
        ("ckpt:runs/x/best.pt", ("ckpt", "runs/x/best.pt")),
        ("runs/x/best.pt", ("ckpt", "runs/x/best.pt")),
        ("C:/runs/best.pt", ("ckpt", "C:/runs/best.pt")),
        ("molclr-gin:model.pth", ("molclr-gin", "model.pth")),
    ],
)
def test_grammar(text: str, expected: tuple[str, str | None]) -> None:
    assert parse_weights(text) == expected


def test_random_init_and_random_are_one_name() -> None:
    from molssl.finetune import FinetuneConfig

    assert parse_weights("random-init") == parse_weights("random") == ("random", None)
    assert parse_weights("random-init:gcn") == ("random", "gcn")
    assert FinetuneConfig(task="bbbp", init="random-init:gcn").init == "random:gcn"


def test_the_grammar_lists_every_loader() -> None:
    from molssl.models.pretrained import GRAMMAR, LOADERS

    assert all(kind in GRAMMAR for kind in LOADERS)


def test_missing_files_name_the_grammar(tmp_path: Path) -> None:
    for spec in (tmp_path / "missing.pt", f"molclr-gcn:{tmp_path / 'missing.pth'}"):
        with pytest.raises(FileNotFoundError, match="molclr-gin:PATH"):
            load_pretrained(spec)
    with pytest.raises(ValueError, match="ckpt:PATH"):
        load_pretrained("ckpt:")


def _checkpoint(tmp_path: Path, state: dict, **config) -> Path:
    featurizer = MolGraphFeaturizer(fingerprint=True)
    return save_checkpoint(
        tmp_path / "best.pt", state, config=config, metadata={"featurizer": featurizer.to_dict()}
    )


def test_bare_path_and_ckpt_load_the_same_weights_in_eval_mode(tmp_path: Path) -> None:
    cfg = EncoderConfig.from_featurizer(MolGraphFeaturizer(), **TINY)
    encoder = MolEncoder.from_config(cfg)
    path = _checkpoint(tmp_path, encoder.state_dict(), encoder=to_dict(cfg))
    bare, prefixed = load_pretrained(path), load_pretrained(f"ckpt:{path}", dropout=0.2)
    assert bare.init == prefixed.init == f"ckpt:{path}"
    assert not bare.encoder.training and prefixed.encoder.config.dropout == 0.2
    assert not bare.featurizer.fingerprint  # extras only serve pretraining losses
    for key, value in encoder.state_dict().items():
        assert torch.equal(bare.encoder.state_dict()[key], value)


def test_partial_loads_are_refused_unless_allowed_and_then_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = EncoderConfig.from_featurizer(MolGraphFeaturizer(), **TINY)
    state = dict(MolEncoder.from_config(cfg).state_dict())
    dropped = next(iter(state))
    del state[dropped]
    state["module.extra.weight"] = torch.zeros(1)
    path = _checkpoint(tmp_path, state, encoder=to_dict(cfg))
    with pytest.raises(CheckpointError, match="allow-partial"):
        load_pretrained(path)
    with caplog.at_level(logging.WARNING, logger="molssl.models.pretrained"):
        loaded = load_pretrained(path, allow_partial=True)
    assert loaded.missing_keys == [dropped] and loaded.unexpected_keys == ["extra.weight"]
    assert "missing" in caplog.text and "extra.weight" in caplog.text


def test_a_checkpoint_without_encoder_config_is_refused(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path, {}, lr=0.1)
    with pytest.raises(CheckpointError, match="molclr-gin:PATH"):
        load_pretrained(path)


def test_random_takes_overrides() -> None:
    loaded = load_pretrained("random:gcn", dropout=0.3, encoder_overrides=TINY)
    assert loaded.init == "random:gcn" and loaded.encoder.config.conv == "gcn"
    assert loaded.encoder.config.num_layers == 2 and loaded.encoder.config.dropout == 0.3


def test_cli_names_a_bad_weights_string_in_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    from molssl.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text("smiles,y\nCCO,1\nCCN,0\n")
    for init, message in (("rnadom", "does not exist"), ("ckpt:", "need a path")):
        args = ["finetune", "--csv", "t.csv", "--task-type", "classification", "--init", init]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()
