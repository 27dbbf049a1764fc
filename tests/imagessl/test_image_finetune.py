"""The fine-tuning evaluation protocol: augmentation, training, the untouched encoder, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from imagessl.cli import main
from imagessl.config import DataConfig, EncoderConfig, EvalConfig
from imagessl.data import load_images
from imagessl.encoders import build_encoder
from imagessl.finetune import finetune_accuracy, random_crop_flip
from imagessl.transforms import Normalize
from molssl.contrastive.config import ConfigError


def test_flip_only_gives_the_image_or_its_mirror():
    images = torch.arange(4 * 3 * 5 * 6, dtype=torch.uint8).reshape(4, 3, 5, 6)
    out = random_crop_flip(images, 0, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    for got, img in zip(out, images, strict=True):
        assert torch.equal(got, img) or torch.equal(got, img.flip(-1))
    many = random_crop_flip(images.repeat(16, 1, 1, 1), 0, torch.Generator().manual_seed(1))
    flipped = sum(
        not torch.equal(g, i) for g, i in zip(many, images.repeat(16, 1, 1, 1), strict=True)
    )
    assert 0 < flipped < 64  # both outcomes occur


def test_crop_is_a_window_of_the_padded_image_and_seeded():
    images = torch.randint(0, 255, (8, 3, 10, 10), dtype=torch.uint8)
    a = random_crop_flip(images, 2, torch.Generator().manual_seed(3))
    b = random_crop_flip(images, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == images.shape
    padded = torch.nn.functional.pad(images.float(), (2, 2, 2, 2), mode="reflect")
    for got, pad in zip(a.float(), padded, strict=True):
        windows = [pad[:, y : y + 10, x : x + 10] for y in range(5) for x in range(5)]
        assert any(torch.equal(got, w) or torch.equal(got, w.flip(-1)) for w in windows)


def test_finetuning_learns_digits_and_leaves_the_encoder_alone():
    train = load_images(DataConfig("digits", limit=512), "train")
    test = load_images(DataConfig("digits"), "test")
    torch.manual_seed(0)
    encoder = build_encoder(EncoderConfig("convnet", width=8, num_stages=2))
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    mean, std = train.channel_stats()
    cfg = EvalConfig(
        "finetune",
        finetune_epochs=5,
        batch_size=32,
        crop_padding=2,
        finetune_lr=3e-3,
        encoder_lr_scale=1.0,
    )
    acc = finetune_accuracy(
        encoder, Normalize(mean, std), train.images, train.labels, test.images, test.labels, cfg
    )
    assert acc > 0.3, acc  # chance is 0.1 (359 test images: sd 0.016); 80 steps from scratch
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key]), key
    again = finetune_accuracy(
        encoder, Normalize(mean, std), train.images, train.labels, test.images, test.labels, cfg
    )
    assert again == acc  # seeded: head init, order and augmentation


def test_bad_finetune_settings_are_rejected():
    with pytest.raises(ConfigError, match="finetune_epochs must be >= 1"):
        EvalConfig("finetune", finetune_epochs=0)
    with pytest.raises(ConfigError, match="crop_padding"):
        EvalConfig("finetune", crop_padding=-1)


def test_cli_finetune_protocol(
    tmp_path: Path, pretrain_digits, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = pretrain_digits(tmp_path / "run", "rotation", limit=512, batch_size=64)
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                ckpt,
                "--protocol",
                "finetune",
                "--epochs",
                "5",
                "--batch-size",
                "32",
                "--lr",
                "3e-3",
                "--encoder-lr-scale",
                "1",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "finetune" and result["num_train"] == 512
    assert result["accuracy"] > 0.25, result  # 80 steps on 512 images; chance 0.1 (sd 0.016)
    with pytest.raises(SystemExit) as exit_info:  # a usage error, named by its flag
        main(["eval", "--checkpoint", ckpt, "--protocol", "finetune", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "argument --epochs: expected an integer >= 1" in capsys.readouterr().err
