"""Typed configuration of the momentum, clustering and predictive-coding image methods.

The sections ``moco``, ``byol``, ``swav`` and ``cpc`` of
:class:`~imagessl.config.ImagePretrainConfig` (re-exported by :mod:`imagessl.config`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BYOLConfig", "CPCConfig", "MoCoConfig", "SwAVConfig"]


@dataclass
class MoCoConfig:
    """MoCo v2 (He et al. 2020; Chen et al. 2020): InfoNCE against a momentum target's keys and
    a queue of past keys, on SimCLR's two views.

    Attributes:
        temperature: InfoNCE temperature (MoCo v2: 0.2).
        proj_hidden_dim: Hidden size of the 2-layer projection head (MoCo v2's MLP head).
        proj_dim: Output size of the projection head (128).
        queue_size: Queued negative keys (MoCo v2: 65536 on ImageNet; default 1024; keep it
            under the dataset size, or stale copies of an image become its negatives).
        momentum: Constant EMA momentum of the target (MoCo: 0.999; default 0.99 for short runs).
        color_strength: Colour-jitter strength of the views (0.5).
        crop_scale: Area range of the random resized crop (MoCo v2: 0.2-1).
        blur: Gaussian blur (None: on for images of >= 64 px).
        gather_distributed: Under DDP, enqueue the keys of every process.
        augment_in_workers: Build the views in the DataLoader's workers (see SimCLRConfig).
    """

    temperature: float = 0.2
    proj_hidden_dim: int = 512
    proj_dim: int = 128
    queue_size: int = 1024
    momentum: float = 0.99
    color_strength: float = 0.5
    crop_scale: tuple[float, float] = (0.2, 1.0)
    blur: bool | None = None
    gather_distributed: bool = True
    augment_in_workers: bool = False


@dataclass
class BYOLConfig:
    """BYOL (Grill et al. 2020): an online predictor regresses the momentum target's projection
    of the other view (negative cosine), no negatives.

    Attributes:
        proj_hidden_dim: Hidden size of the BatchNorm projector (BYOL: 4096; default 1024).
        proj_dim: Projection size (256).
        pred_hidden_dim: Hidden size of the predictor (BYOL: 4096; default 1024).
        base_momentum: Target momentum at step 0 (BYOL: 0.996; default 0.99 for short runs).
        final_momentum: Momentum at the last step (cosine schedule; 1.0).
        color_strength: Colour-jitter strength of the views (0.5).
        crop_scale: Area range of the random resized crop (0.08-1).
        blur: Gaussian blur (None: on for images of >= 64 px).
        augment_in_workers: Build the views in the DataLoader's workers (see SimCLRConfig).
    """

    proj_hidden_dim: int = 1024
    proj_dim: int = 256
    pred_hidden_dim: int = 1024
    base_momentum: float = 0.99
    final_momentum: float = 1.0
    color_strength: float = 0.5
    crop_scale: tuple[float, float] = (0.08, 1.0)
    blur: bool | None = None
    augment_in_workers: bool = False


@dataclass
class SwAVConfig:
    """SwAV (Caron et al. 2020): swapped prediction of Sinkhorn-Knopp prototype codes, two views.

    Attributes:
        proj_hidden_dim: Hidden size of the BatchNorm projection head (2048 in the paper; 512).
        proj_dim: Projection size (128).
        num_prototypes: Prototypes (3000 on ImageNet; default 100 for 10-class data).
        temperature: Softmax temperature of the predictions (0.1).
        epsilon: Entropy regularisation of Sinkhorn-Knopp (0.05).
        sinkhorn_iterations: Sinkhorn iterations (3).
        queue_size: Past projections (per view) joining the equipartition, for small batches
            (0: no queue, the default).
        color_strength: Colour-jitter strength of the views (0.5).
        crop_scale: Area range of the random resized crop (0.14-1, SwAV's large crops).
        blur: Gaussian blur (None: on for images of >= 64 px).
        gather_distributed: Under DDP, Sinkhorn sums over all processes and the queue holds
            every process's projections.
        augment_in_workers: Build the views in the DataLoader's workers (see SimCLRConfig).
    """

    proj_hidden_dim: int = 512
    proj_dim: int = 128
    num_prototypes: int = 100
    temperature: float = 0.1
    epsilon: float = 0.05
    sinkhorn_iterations: int = 3
    queue_size: int = 0
    color_strength: float = 0.5
    crop_scale: tuple[float, float] = (0.14, 1.0)
    blur: bool | None = None
    gather_distributed: bool = True
    augment_in_workers: bool = False


@dataclass
class CPCConfig:
    """CPC v2 (Henaff et al. 2020, "Data-Efficient Image Recognition with Contrastive Predictive
    Coding"; van den Oord et al. 2018): predict patch latents of the rows below from a masked
    context network over the grid of latents.

    The image is cut into overlapping ``patch_size`` patches every ``patch_stride`` pixels (32 px:
    8 px patches every 4 px, a 7x7 grid), each encoded separately by ``encoder`` (which needs
    ``norm: layer``: batch statistics would leak information between the patches) and pooled to
    one latent per patch. Evaluation uses the latents' mean over the grid.

    Attributes:
        resize: Resize images to this side first (None: keep).
        patch_size: Side of a patch in pixels (default 8).
        patch_stride: Pixels between neighbouring patches (default 4: half-overlapping).
        context_dim: Channels of the context network (default 128).
        context_layers: Residual blocks of masked 3x3 convolutions (default 2).
        predict_rows: ``K``: predict the latents of ``K`` rows below (default 3).
        skip_rows: Rows skipped before the first predicted one (default 1: predict rows
            ``r + 2 .. r + K + 1``), so that with half-overlapping patches no predicted patch
            shares pixels with the context's own row, which would make copying pixels a
            shortcut (as the CPC v2 reimplementations do).
        temperature: Divides the InfoNCE logits (CPC: 1, with dot products).
        normalize: Score cosine similarities of L2-normalised latents instead of dot products
            (then use a temperature around 0.1).
        jitter: Patch-level augmentation: random shift of each patch by up to this many pixels.
        flip: Patch-level augmentation: probability of flipping each patch horizontally.
        channel_drop: Patch-level augmentation: probability of keeping one random colour channel
            of a patch and zeroing (the mean of) the other two (CPC v2's colour dropping).
    """

    resize: int | None = None
    patch_size: int = 8
    patch_stride: int = 4
    context_dim: int = 128
    context_layers: int = 2
    predict_rows: int = 3
    skip_rows: int = 1
    temperature: float = 1.0
    normalize: bool = False
    jitter: int = 1
    flip: float = 0.5
    channel_drop: float = 0.5
