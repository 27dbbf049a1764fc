"""Encoder-decoder pretext tasks: context encoder (inpainting) and colorization.

- Inpainting (Pathak et al. 2016, "Context Encoders"): the masked image (masked pixels set to
  the dataset mean, i.e. 0 after normalisation) goes through encoder + decoder; the loss is the
  mean squared error over the masked pixels. With ``adv_weight > 0`` a small discriminator
  judges real images against images completed with the reconstruction; a gradient-reversal
  layer lets one optimiser train both (the discriminator descends its BCE, the generator
  receives ``-adv_weight`` times that gradient).
- Colorization (Zhang et al. 2016, regression variant): the Lab lightness ``L`` (scaled to
  [-1, 1], repeated to 3 channels) in, ``ab / 110`` out, L2 or smooth-L1 loss. Frozen-feature
  evaluation feeds the encoder the same lightness input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagessl.color import rgb_to_lab
from imagessl.config import ColorizationConfig, InpaintingConfig
from imagessl.encoders import Decoder, ImageEncoder
from imagessl.masks import MASKS
from imagessl.methods.registry import MethodContext, register_method, split_batch
from imagessl.transforms import Normalize

__all__ = ["ColorizationModel", "InpaintingModel", "lightness_input"]


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.scale * grad, None


def _discriminator(channels: int = 3, width: int = 32) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, width, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
        nn.BatchNorm2d(2 * width),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(2 * width, 1, 3, padding=1),
    )


class InpaintOutput(NamedTuple):
    """Reconstruction ``[B, C, H, W]`` and discriminator logits (None without adversary)."""

    recon: Tensor
    d_real: Tensor | None
    d_fake: Tensor | None


class InpaintingModel(nn.Module):
    """Encoder-decoder with an optional discriminator.

    Args:
        encoder: The shared encoder.
        adv_weight: Generator weight of the adversarial term; 0 builds no discriminator.
    """

    def __init__(self, encoder: ImageEncoder, adv_weight: float = 0.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = Decoder(encoder.out_dim, 3, encoder.stride)
        self.adv_weight = float(adv_weight)
        self.discriminator = _discriminator() if adv_weight > 0 else None

    def forward(self, x: Tensor, mask: Tensor) -> InpaintOutput:
        """``x [B, 3, H, W]`` normalised, ``mask bool [B, 1, H, W]`` (True = hidden)."""
        recon = self.decoder(self.encoder.forward_features(x.masked_fill(mask, 0.0)), x.shape[-2:])
        if self.discriminator is None:
            return InpaintOutput(recon, None, None)
        fake = torch.where(mask, _GradReverse.apply(recon, self.adv_weight), x)
        d_real = self.discriminator(x).mean(dim=(1, 2, 3))
        d_fake = self.discriminator(fake).mean(dim=(1, 2, 3))
        return InpaintOutput(recon, d_real, d_fake)


class InpaintingObjective:
    """Random masks, reconstruction, L2 on the masked pixels (+ discriminator BCE)."""

    def __init__(self, cfg: InpaintingConfig, normalize: Normalize) -> None:
        if cfg.mask not in MASKS:
            raise ValueError(f"unknown inpainting mask {cfg.mask!r}; choose one of {sorted(MASKS)}")
        if not 0.0 < cfg.mask_fraction < 1.0:
            raise ValueError(f"inpainting.mask_fraction must be in (0, 1), got {cfg.mask_fraction}")
        self.cfg = cfg
        self.normalize = normalize

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        images, _ = split_batch(batch)
        x = self.normalize(images)
        b, c, size = x.shape[0], x.shape[1], x.shape[-1]
        mask = MASKS[self.cfg.mask](
            b, size, self.cfg.mask_fraction, generator, num_blocks=self.cfg.num_blocks
        ).to(x.device)
        out = model(x, mask)
        weight = mask.to(x.dtype)
        rec = ((out.recon - x) ** 2 * weight).sum() / (weight.sum() * c).clamp_min(1.0)
        metrics = {"loss_rec": float(rec.detach())}
        if out.d_real is None:
            return rec, metrics
        disc = F.binary_cross_entropy_with_logits(
            out.d_real, torch.ones_like(out.d_real)
        ) + F.binary_cross_entropy_with_logits(out.d_fake, torch.zeros_like(out.d_fake))
        metrics["loss_disc"] = float(disc.detach())
        return rec + disc, metrics


def lightness_input(images: Tensor) -> Tensor:
    """``uint8 [B, 3, H, W]`` -> Lab lightness scaled to [-1, 1], repeated to 3 channels."""
    light = rgb_to_lab(images.float() / 255.0)[:, :1]
    return (light / 50.0 - 1.0).expand(-1, 3, -1, -1)


class ColorizationModel(nn.Module):
    """``L [B, 3, H, W] -> ab / 110 [B, 2, H, W]`` through encoder and decoder."""

    def __init__(self, encoder: ImageEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = Decoder(encoder.out_dim, 2, encoder.stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder.forward_features(x), x.shape[-2:])


class ColorizationObjective:
    """Lab split of the (optionally flipped) batch, ab regression."""

    def __init__(self, cfg: ColorizationConfig) -> None:
        self.cfg = cfg

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        images, _ = split_batch(batch)
        rgb = images.float() / 255.0
        if self.cfg.flip:
            flip = torch.rand(rgb.shape[0], generator=generator, device=generator.device) < 0.5
            rgb = torch.where(flip.to(rgb.device).view(-1, 1, 1, 1), rgb.flip(-1), rgb)
        lab = rgb_to_lab(rgb)
        target = lab[:, 1:] / 110.0
        pred = model((lab[:, :1] / 50.0 - 1.0).expand(-1, 3, -1, -1))
        if self.cfg.loss == "l2":
            loss = F.mse_loss(pred, target)
        else:
            loss = F.smooth_l1_loss(pred, target, beta=0.1)
        return loss, {"ab_mae": float((pred.detach() - target).abs().mean() * 110.0)}


@register_method("inpainting")
def build_inpainting(
    cfg: InpaintingConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[InpaintingModel, InpaintingObjective]:
    """Context encoder with the configured masks and optional adversarial term."""
    if cfg.adv_weight < 0:
        raise ValueError(f"inpainting.adv_weight must be >= 0, got {cfg.adv_weight}")
    return InpaintingModel(encoder, cfg.adv_weight), InpaintingObjective(cfg, ctx.normalize)


@register_method("colorization", embed_input=lambda images, ctx: lightness_input(images))
def build_colorization(
    cfg: ColorizationConfig, encoder: ImageEncoder, ctx: MethodContext
) -> tuple[ColorizationModel, ColorizationObjective]:
    """Colorization as ab regression from lightness."""
    return ColorizationModel(encoder), ColorizationObjective(cfg)
