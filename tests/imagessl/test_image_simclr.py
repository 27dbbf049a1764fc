"""SimCLR views, encoders and the shared NT-Xent loss."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from imagessl.config import EncoderConfig, ImagePretrainConfig
from imagessl.encoders import ENCODERS, build_encoder
from imagessl.methods import METHODS, UnknownMethodError, get_method
from imagessl.pretrain import build_method
from imagessl.transforms import Normalize, SimCLRViews, simclr_augmentation
from molssl.contrastive import NTXentLoss

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]


def _images(n: int = 6, size: int = 32) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(0)).to(
        torch.uint8
    )


def _views() -> SimCLRViews:
    return SimCLRViews(simclr_augmentation(32), Normalize(MEAN, STD))


def test_views_differ_keep_shape_and_follow_the_generator() -> None:
    images = _images()
    a, b = _views()(images, torch.Generator().manual_seed(1))
    assert a.shape == b.shape == (6, 3, 32, 32) and a.dtype == torch.float32
    assert not torch.allclose(a, b)
    a2, b2 = _views()(images, torch.Generator().manual_seed(1))
    assert torch.equal(a, a2) and torch.equal(b, b2)
    a3, _ = _views()(images, torch.Generator().manual_seed(2))
    assert not torch.equal(a, a3)


def test_views_leave_the_global_rng_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    _views()(_images(2), torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(3), expected)


def test_blur_only_for_large_images() -> None:
    def has_blur(size: int) -> bool:
        return "GaussianBlur" in repr(simclr_augmentation(size))

    assert not has_blur(32) and has_blur(96)
    assert "GaussianBlur" in repr(simclr_augmentation(32, blur=True))


def test_image_path_uses_the_molecule_ntxent_class() -> None:
    cfg = ImagePretrainConfig(method="simclr", encoder=EncoderConfig("convnet", width=8))
    built = build_method(cfg, 32, MEAN, STD)
    assert type(built.objective.loss) is NTXentLoss
    assert built.objective.loss.temperature == cfg.simclr.temperature
    batch = [_images(4), torch.zeros(4, dtype=torch.long)]
    loss, metrics = built.objective(built.model, batch, torch.Generator().manual_seed(0))
    assert loss.dim() == 0 and torch.isfinite(loss) and "pos_cosine" in metrics
    loss.backward()
    assert built.model.encoder.net[0][0].weight.grad is not None


@pytest.mark.parametrize("name", ["convnet", "resnet18"])
def test_encoders_embed_small_images(name: str) -> None:
    assert name in ENCODERS
    enc = build_encoder(EncoderConfig(name, width=8, num_stages=2))
    x = torch.randn(2, 3, 32, 32)
    h = enc(x)
    assert h.shape == (2, enc.out_dim)
    assert enc.forward_features(x).shape[-1] == 32 // enc.stride


def test_resnet18_small_stem() -> None:
    enc = build_encoder(EncoderConfig("resnet18", small_images=True))
    conv1 = enc.stem[0]
    assert conv1.kernel_size == (3, 3) and conv1.stride == (1, 1)
    assert isinstance(enc.stem[3], torch.nn.Identity) and enc.out_dim == 512


def test_unknown_method_and_encoder_list_valid_names() -> None:
    with pytest.raises(UnknownMethodError, match="rotation"):
        get_method("rotnet")
    with pytest.raises(ValueError, match="convnet"):
        build_encoder(EncoderConfig("vgg"))
    assert set(METHODS) == {
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
    }


@pytest.mark.parametrize("method", ["inpainting"])
def test_inpainting_adversarial_term_trains_both_sides(method: str) -> None:
    cfg = ImagePretrainConfig(method=method, encoder=EncoderConfig("convnet", width=8))
    cfg.inpainting.adv_weight = 0.01
    built = build_method(cfg, 32, MEAN, STD)
    batch = [_images(4), torch.zeros(4, dtype=torch.long)]
    loss, metrics = built.objective(built.model, batch, torch.Generator().manual_seed(0))
    assert {"loss_rec", "loss_disc"} <= set(metrics)
    loss.backward()
    assert built.model.discriminator[0].weight.grad is not None
    assert built.model.decoder.out.weight.grad is not None


def test_imagessl_imports_nothing_chemical() -> None:
    code = (
        "import sys, imagessl.cli, imagessl.pretrain, imagessl.evaluate, imagessl.methods; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'rdkit' or m.startswith("
        "('molssl.featurize', 'molssl.models', 'molssl.augment', 'molssl.objectives'))]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
