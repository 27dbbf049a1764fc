"""CPC v2 (Henaff et al. 2020, "Data-Efficient Image Recognition with Contrastive Predictive
Coding"; van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding").

The image is cut into a grid of overlapping patches; a patch encoder (the configured backbone,
with layer norm) maps each patch to a latent ``z[r, c]``; a PixelCNN-style context network of
masked convolutions reads the grid of latents so that the context ``c[r, c]`` depends only on
rows ``<= r``; for each ``k = 1..K`` a linear predictor maps ``c[r, c]`` to a guess of
``z[r + skip_rows + k, c]``, scored by InfoNCE (:class:`molssl.contrastive.CPCLoss`) against the latents of
every patch of every image in the batch. Each patch is augmented on its own (spatial jitter,
horizontal flip, colour dropping). Evaluation embeds an image as the mean of its patch latents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imagessl.config import CPCConfig
from imagessl.encoders import ImageEncoder
from imagessl.methods.registry import MethodContext, register_method, split_batch
from imagessl.transforms import Normalize
from molssl.contrastive.config import ConfigError
from molssl.contrastive.losses.infonce import CPCLoss

__all__ = [
    "CPCModel",
    "CPCObjective",
    "ContextNetwork",
    "MaskedConv2d",
    "PatchEncoder",
    "augmented_patches",
]


class PatchEncoder(ImageEncoder):
    """Encode every patch of a grid separately: ``[N, 3, H, W] -> [N, D, rows, cols]``.

    The feature map of :meth:`forward_features` is the grid of patch latents, so the inherited
    :meth:`forward` (its spatial mean) is the pooled patch representation used by evaluation.

    Args:
        backbone: Encoder of one patch (its pooled ``h`` is the patch latent).
        patch_size: Side of a patch.
        patch_stride: Pixels between neighbouring patches.
        resize: Resize images to this side before cutting (None: keep).
    """

    def __init__(
        self, backbone: ImageEncoder, patch_size: int, patch_stride: int, resize: int | None = None
    ) -> None:
        super().__init__()
        if patch_size < 1 or patch_stride < 1:
            raise ConfigError(
                f"cpc: patch_size and patch_stride must be >= 1, got {patch_size}, {patch_stride}"
            )
        self.backbone = backbone
        self.patch_size, self.patch_stride, self.resize = patch_size, patch_stride, resize
        self.out_dim = backbone.out_dim
        self.stride = patch_stride

    def prepare(self, x: Tensor) -> Tensor:
        """Resize to ``resize`` (when set)."""
        if self.resize is not None and x.shape[-1] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", antialias=True)
        return x

    def cut(self, x: Tensor) -> Tensor:
        """The patch grid of prepared images: ``[N, C, H, W] -> [N, rows, cols, C, p, p]``."""
        p, s = self.patch_size, self.patch_stride
        return x.unfold(2, p, s).unfold(3, p, s).permute(0, 2, 3, 1, 4, 5)

    def encode_patches(self, patches: Tensor) -> Tensor:
        """``[N, rows, cols, C, p, p] -> [N, D, rows, cols]`` latents."""
        n, rows, cols = patches.shape[:3]
        h = self.backbone(patches.flatten(0, 2))
        return h.view(n, rows, cols, -1).permute(0, 3, 1, 2)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.encode_patches(self.cut(self.prepare(x)))


def augmented_patches(
    x: Tensor, encoder: PatchEncoder, cfg: CPCConfig, generator: torch.Generator
) -> Tensor:
    """The patch grid with CPC v2's patch-level augmentation, each patch drawn independently.

    Every patch is shifted by up to ``cfg.jitter`` pixels (reflection padding at the border),
    flipped horizontally with probability ``cfg.flip`` and, with probability
    ``cfg.channel_drop``, reduced to one random colour channel (the others set to 0, the mean
    of the normalised images).

    Args:
        x: Normalised, prepared images ``[N, C, H, W]``.
        encoder: Its patch geometry is used.
        cfg: Augmentation settings.
        generator: Source of all randomness (on the images' device).

    Returns:
        ``[N, rows, cols, C, p, p]``, the grid of :meth:`PatchEncoder.cut`.
    """
    j, p = cfg.jitter, encoder.patch_size
    dev = generator.device
    if j > 0:
        padded = F.pad(x, (j,) * 4, mode="reflect" if j < x.shape[-1] else "replicate")
        big = padded.unfold(2, p + 2 * j, encoder.patch_stride)
        big = big.unfold(3, p + 2 * j, encoder.patch_stride).permute(0, 2, 3, 1, 4, 5)
        n, rows, cols, ch = big.shape[:4]
        offsets = torch.randint(0, 2 * j + 1, (2, n, rows, cols), generator=generator, device=dev)
        span = torch.arange(p, device=dev)
        ys = (offsets[0, ..., None] + span).to(x.device)  # [n, rows, cols, p]
        xs = (offsets[1, ..., None] + span).to(x.device)
        idx_y = ys[:, :, :, None, :, None].expand(n, rows, cols, ch, p, p + 2 * j)
        big = big.gather(4, idx_y)
        idx_x = xs[:, :, :, None, None, :].expand(n, rows, cols, ch, p, p)
        patches = big.gather(5, idx_x)
    else:
        patches = encoder.cut(x)
    n, rows, cols, ch = patches.shape[:4]
    flip = (torch.rand(n, rows, cols, generator=generator, device=dev) < cfg.flip).to(x.device)
    patches = torch.where(flip[..., None, None, None], patches.flip(-1), patches)
    if cfg.channel_drop > 0 and ch > 1:
        drop = torch.rand(n, rows, cols, generator=generator, device=dev) < cfg.channel_drop
        keep = torch.randint(0, ch, (n, rows, cols), generator=generator, device=dev)
        mask = F.one_hot(keep, ch).to(patches.dtype)
        mask = torch.where(drop[..., None], mask, torch.ones_like(mask)).to(x.device)
        patches = patches * mask[..., None, None]
    return patches


class MaskedConv2d(nn.Conv2d):
    """A ``k x k`` convolution whose kernel rows below the centre are zero (PixelCNN-style).

    Output row ``r`` depends on input rows ``r - k//2 .. r`` only, all columns of the kernel.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Odd kernel side (default 3).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"MaskedConv2d needs an odd kernel_size, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        mask = torch.ones_like(self.weight)
        mask[:, :, kernel_size // 2 + 1 :, :] = 0.0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ContextNetwork(nn.Module):
    """Masked residual network over the latent grid: ``[N, D, R, C] -> [N, dim, R, C]``.

    A 1x1 projection, then ``num_layers`` residual blocks (ReLU, masked 3x3 convolution, ReLU,
    1x1 convolution). Every operation keeps row ``r`` of the output a function of input rows
    ``<= r``; the receptive field grows by one row and one column on each side per block.
    """

    def __init__(self, in_dim: int, dim: int, num_layers: int) -> None:
        super().__init__()
        self.inp = nn.Conv2d(in_dim, dim, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), MaskedConv2d(dim, dim, 3), nn.ReLU(), nn.Conv2d(dim, dim, 1))
            for _ in range(num_layers)
        )

    def forward(self, z: Tensor) -> Tensor:
        c = self.inp(z)
        for block in self.blocks:
            c = c + block(c)
        return c


class CPCOutput(NamedTuple):
    """Latents ``z [N, D, R, C]`` and predictions ``pred [N, K, D, R, C]`` (``pred[:, k-1]`` at
    row ``r`` predicts ``z`` at row ``r + skip_rows + k``)."""

    z: Tensor
    pred: Tensor


class CPCModel(nn.Module):
    """Patch encoder, context network and the K row predictors; ``forward(patches)``."""

    def __init__(self, encoder: PatchEncoder, cfg: CPCConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.context = ContextNetwork(encoder.out_dim, cfg.context_dim, cfg.context_layers)
        self.num_rows = cfg.predict_rows
        self.predictor = nn.Conv2d(cfg.context_dim, cfg.predict_rows * encoder.out_dim, 1)

    def forward(self, patches: Tensor) -> CPCOutput:
        z = self.encoder.encode_patches(patches)
        pred = self.predictor(self.context(z))
        n, _, rows, cols = pred.shape
        return CPCOutput(z, pred.view(n, self.num_rows, -1, rows, cols))


class CPCObjective:
    """Augmented patches, latents, context, InfoNCE of each row offset against every latent."""

    def __init__(self, cfg: CPCConfig, normalize: Normalize) -> None:
        self.cfg = cfg
        self.normalize = normalize
        self.loss = CPCLoss(cfg.temperature, normalize=cfg.normalize)

    def __call__(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        images, _ = split_batch(batch)
        encoder = _unwrap(model).encoder
        x = encoder.prepare(self.normalize(images))
        out = model(augmented_patches(x, encoder, self.cfg, generator))
        n, d, rows, cols = out.z.shape
        targets = out.z.permute(0, 2, 3, 1).reshape(-1, d)
        index = torch.arange(n * rows * cols, device=targets.device).view(n, rows, cols)
        losses, metrics = [], {}
        for k in range(1, self.cfg.predict_rows + 1):
            offset = self.cfg.skip_rows + k
            if offset >= rows:
                break
            pred = out.pred[:, k - 1, :, : rows - offset].permute(0, 2, 3, 1).reshape(-1, d)
            losses.append(self.loss(pred, targets, index[:, offset:].reshape(-1)))
            metrics[f"loss_row{offset}"] = float(losses[-1].detach())
        return torch.stack(losses).mean(), metrics


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _patch_encoder(cfg: CPCConfig, backbone: ImageEncoder) -> PatchEncoder:
    return PatchEncoder(backbone, cfg.patch_size, cfg.patch_stride, cfg.resize)


@register_method("cpc", wrap_encoder=_patch_encoder)
def build_cpc(
    cfg: CPCConfig, encoder: PatchEncoder, ctx: MethodContext
) -> tuple[CPCModel, CPCObjective]:
    """CPC v2 model and objective.

    Raises:
        molssl.contrastive.config.ConfigError: A backbone with batch norm, or a grid with too few rows.
    """
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in encoder.modules()):
        raise ConfigError(
            "cpc: the patch encoder has batch norm, which lets patches of one image see each "
            "other's statistics; set encoder.norm=layer (CPC v2)"
        )
    size = cfg.resize or ctx.image_size
    rows = (size - cfg.patch_size) // cfg.patch_stride + 1
    if cfg.predict_rows < 1 or cfg.skip_rows < 0 or rows <= cfg.skip_rows + cfg.predict_rows:
        raise ConfigError(
            f"cpc: {size}px images give {rows} rows of {cfg.patch_size}px patches every "
            f"{cfg.patch_stride}px, too few to predict {cfg.predict_rows} rows ahead after "
            f"skipping {cfg.skip_rows}; lower cpc.predict_rows, cpc.skip_rows or "
            "cpc.patch_stride, or set cpc.resize"
        )
    return CPCModel(encoder, cfg), CPCObjective(cfg, ctx.normalize)
