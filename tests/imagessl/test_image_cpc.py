"""CPC v2: patch grid, patch augmentation, the masked context network, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from imagessl.cli import main
from imagessl.config import CPCConfig, EncoderConfig, ImagePretrainConfig
from imagessl.encoders import build_encoder
from imagessl.methods.cpc import (
    ContextNetwork,
    CPCModel,
    MaskedConv2d,
    PatchEncoder,
    augmented_patches,
)
from imagessl.pretrain import build_method
from molssl.contrastive.config import ConfigError

MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]


def _encoder(**kwargs) -> PatchEncoder:
    backbone = build_encoder(EncoderConfig("convnet", width=4, num_stages=2, norm="layer"))
    return PatchEncoder(backbone, kwargs.get("patch_size", 8), kwargs.get("patch_stride", 4))


def test_context_at_row_r_has_no_gradient_from_rows_below() -> None:
    torch.manual_seed(0)
    net = ContextNetwork(in_dim=6, dim=12, num_layers=3)
    z = torch.randn(2, 6, 7, 5, requires_grad=True)
    c = net(z)
    for r in range(7):
        (grad,) = torch.autograd.grad(c[:, :, r].sum(), z, retain_graph=True)
        per_row = grad.abs().sum(dim=(0, 1, 3))
        assert torch.all(per_row[r + 1 :] == 0), (r, per_row)
        assert torch.all(per_row[max(0, r - 3) : r + 1] > 0), (r, per_row)  # 3 blocks: 3 rows up


def test_predictions_never_see_the_rows_they_predict() -> None:
    torch.manual_seed(0)
    model = CPCModel(_encoder(), CPCConfig(context_dim=8, predict_rows=3))
    patches = torch.randn(2, 7, 7, 3, 8, 8)
    z = model.encoder.encode_patches(patches).detach().requires_grad_(True)
    pred = model.predictor(model.context(z)).view(2, 3, -1, 7, 7)
    for k in range(1, 4):
        for r in range(7 - k):
            (grad,) = torch.autograd.grad(pred[:, k - 1, :, r].sum(), z, retain_graph=True)
            assert grad[:, :, r + 1 :].abs().sum() == 0  # the target row r + k is among them


def test_masked_conv_kernel_rows_below_the_centre_are_zero() -> None:
    conv = MaskedConv2d(2, 3, 5)
    assert torch.all(conv.mask[:, :, 3:] == 0) and torch.all(conv.mask[:, :, :3] == 1)
    assert "mask" not in conv.state_dict()
    with pytest.raises(ValueError, match="odd"):
        MaskedConv2d(2, 3, 4)


def test_patch_grid_and_patch_augmentation() -> None:
    enc = _encoder()
    x = torch.randn(2, 3, 32, 32)
    grid = enc.cut(x)
    assert grid.shape == (2, 7, 7, 3, 8, 8)
    assert torch.equal(grid[1, 2, 5], x[1, :, 8:16, 20:28])
    plain = CPCConfig(jitter=0, flip=0.0, channel_drop=0.0)
    assert torch.equal(augmented_patches(x, enc, plain, torch.Generator().manual_seed(0)), grid)
    jittered = augmented_patches(
        x, enc, CPCConfig(jitter=2, flip=0.0, channel_drop=0.0), torch.Generator().manual_seed(1)
    )
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for r, c in [(0, 0), (3, 4), (6, 6)]:
        windows = [
            padded[0, :, 4 * r + dy : 4 * r + dy + 8, 4 * c + dx : 4 * c + dx + 8]
            for dy in range(5)
            for dx in range(5)
        ]
        assert any(torch.equal(jittered[0, r, c], w) for w in windows)
    dropped = augmented_patches(
        x, enc, CPCConfig(jitter=0, flip=0.0, channel_drop=1.0), torch.Generator().manual_seed(2)
    )
    kept = (dropped != 0).flatten(4).any(-1).sum(-1)
    assert torch.all(kept == 1)  # one colour channel per patch
    flipped = augmented_patches(
        x, enc, CPCConfig(jitter=0, flip=1.0, channel_drop=0.0), torch.Generator().manual_seed(3)
    )
    assert torch.equal(flipped, grid.flip(-1))


def test_layer_norm_encoders_have_no_batch_statistics() -> None:
    for name in ("convnet", "resnet18"):
        enc = build_encoder(EncoderConfig(name, width=4, norm="layer"))
        norms = [m for m in enc.modules() if isinstance(m, torch.nn.GroupNorm)]
        assert norms and all(m.num_groups == 1 for m in norms)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
        x = torch.randn(4, 3, 8, 8)
        enc.train()  # even in training mode, a patch's latent ignores the rest of the batch
        assert torch.allclose(enc(x)[:1], enc(x[:1]), atol=1e-5)


def test_batch_norm_and_too_small_grids_are_refused() -> None:
    cfg = ImagePretrainConfig(method="cpc", encoder=EncoderConfig("convnet", width=4))
    with pytest.raises(ConfigError, match="encoder.norm=layer"):
        build_method(cfg, 32, MEAN, STD)
    cfg.encoder.norm = "layer"
    cfg.cpc.predict_rows = 7
    with pytest.raises(ConfigError, match="predict_rows"):
        build_method(cfg, 32, MEAN, STD)


def test_loss_starts_near_chance_and_evaluation_pools_patch_latents(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ImagePretrainConfig(method="cpc")
    cfg.encoder = EncoderConfig("convnet", width=4, num_stages=2, norm="layer")
    built = build_method(cfg, 32, MEAN, STD)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    loss, metrics = built.objective(built.model, [images, None], torch.Generator())
    assert abs(float(loss.detach()) - torch.log(torch.tensor(4 * 49.0))) < 0.5  # 196 candidates
    assert set(metrics) == {"loss_row2", "loss_row3", "loss_row4"}
    x = torch.randn(3, 3, 32, 32)
    enc = built.model.encoder.eval()
    assert torch.allclose(enc(x), enc.encode_patches(enc.cut(x)).mean(dim=(2, 3)))
    out = tmp_path / "cpc"
    argv = [
        "pretrain",
        "--method",
        "cpc",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--out",
        str(out),
        "--set",
        "data.limit=32",
    ]
    assert main(argv + tiny_args + ["--set", "encoder.norm=layer"]) == 0
    capsys.readouterr()
    ckpt = str(out / "last.pt")
    assert main(["eval", "--checkpoint", ckpt, "--protocol", "knn", "--json", "--k", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "cpc"
