"""Typed configuration of image self-supervised pretraining (YAML presets load into these).

One section per component: ``data``, ``encoder``, one section per method (only the section of
``method`` is used) and the generic ``trainer``. Loading is strict (:mod:`molssl.contrastive.config`).

Example YAML::

    method: simclr
    data: {path: cifar10}
    encoder: {name: resnet18, small_images: true}
    simclr: {temperature: 0.5, color_strength: 0.5}
    trainer: {epochs: 200, batch_size: 256, lr: 1.0e-3}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from imagessl.config_methods import BYOLConfig, CPCConfig, MoCoConfig, SwAVConfig
from molssl.contrastive.config import ConfigError, did_you_mean, load_yaml
from molssl.contrastive.training.config import TrainerConfig

__all__ = [
    "BYOLConfig",
    "CPCConfig",
    "ColorizationConfig",
    "DataConfig",
    "EncoderConfig",
    "EvalConfig",
    "ImagePretrainConfig",
    "InpaintingConfig",
    "METHOD_NAMES",
    "JigsawConfig",
    "MoCoConfig",
    "ProbeConfig",
    "RelPatchConfig",
    "RotationConfig",
    "SimCLRConfig",
    "SwAVConfig",
    "default_config",
    "load_pretrain_config",
]

METHOD_NAMES = (
    "simclr",
    "moco",
    "byol",
    "swav",
    "cpc",
    "rotation",
    "relpatch",
    "jigsaw",
    "inpainting",
    "colorization",
)
"""The methods of :data:`imagessl.methods.METHODS`, known without importing torch (``--help``)."""
CONTRASTIVE_METHODS = ("simclr", "moco", "byol", "swav")
"""Methods whose loss compares the samples of a batch or normalises over it (BatchNorm heads,
Sinkhorn): they need two or more per batch."""


@dataclass
class DataConfig:
    """Which images to train on.

    Attributes:
        path: ``"digits"`` (scikit-learn digits upsampled to 32x32, embedded), ``"cifar10"``
            (``$IMAGESSL_DATA_DIR``, the cache, the shared tarball, then a torchvision
            download), or a folder of class folders / a ``.tar.gz`` of one. Default ``digits``.
        image_size: Resize (shorter side) + centre-crop every image to this size; None keeps
            the size of the first image of a folder (CIFAR-10: 32, digits: 32).
        limit: Use a seeded random subset of this many training images (None: all).
        test_limit: Same for the test split used by evaluation (None: all).
        test_fraction: Held-out fraction for folders without ``train``/``test`` subfolders.
        valid_size: Fraction of the training images held out for the validation loss that
            selects ``best.pt`` (default 0: no validation).
    """

    path: str = "digits"
    image_size: int | None = None
    limit: int | None = None
    test_limit: int | None = None
    test_fraction: float = 0.2
    valid_size: float = 0.0


@dataclass
class EncoderConfig:
    """Backbone producing a feature map and its global-average-pooled embedding ``h``.

    Attributes:
        name: A key of :data:`imagessl.encoders.ENCODERS` (``resnet18``, ``resnet34``,
            ``resnet50``, ``convnet``).
        small_images: ResNets only: 3x3 stride-1 first convolution and no max-pool, the
            CIFAR stem of SimCLR (default True).
        width: ``convnet`` only: channels of the first stage, doubled per stage (default 32).
        num_stages: ``convnet`` only: conv stages, each after the first halves the size.
        norm: ``batch`` (BatchNorm, default) or ``layer`` (layer norm, ``GroupNorm(1, C)``: no
            statistics shared between the images or patches of a batch; CPC v2 needs it).
    """

    name: str = "resnet18"
    small_images: bool = True
    width: int = 32
    num_stages: int = 3
    norm: Literal["batch", "layer"] = "batch"


@dataclass
class SimCLRConfig:
    """SimCLR (Chen et al. 2020): two augmented views contrasted with NT-Xent.

    Attributes:
        temperature: NT-Xent temperature (SimCLR CIFAR-10: 0.5).
        proj_hidden_dim: Hidden size of the 2-layer projection head.
        proj_dim: Output size of the projection head (128).
        color_strength: Colour-jitter strength ``s`` (0.8s, 0.8s, 0.8s, 0.2s); CIFAR: 0.5.
        crop_scale: Area range of the random resized crop (0.08-1).
        blur: Gaussian blur (sigma 0.1-2, p=0.5); None turns it on for images of >= 64 px.
        gather_distributed: Under DDP, negatives from every process (all-gather).
        augment_in_workers: Build the views in the DataLoader's ``collate_fn`` (parallel in
            ``trainer.num_workers`` processes, seeded per worker) instead of in the training
            step from the trainer's generator (default False: exact resume, fixed validation
            views). Worth it on a GPU, where the per-image CPU augmentation is the bottleneck.
    """

    temperature: float = 0.5
    proj_hidden_dim: int = 512
    proj_dim: int = 128
    color_strength: float = 0.5
    crop_scale: tuple[float, float] = (0.08, 1.0)
    blur: bool | None = None
    gather_distributed: bool = True
    augment_in_workers: bool = False


@dataclass
class RotationConfig:
    """RotNet (Gidaris et al. 2018): all four rotations of each image, 4-way classification.

    Attributes:
        flip: Random horizontal flip before rotating (default True).
    """

    flip: bool = True


@dataclass
class RelPatchConfig:
    """Relative patch position (Doersch et al. 2015): centre vs. one of 8 neighbours.

    Attributes:
        resize: Resize images to this size before cutting the 3x3 grid (None: keep).
        gap: Minimum pixels between neighbouring patches.
        jitter: Random shift of each patch, in pixels, in each direction.
        channel_drop: Probability of keeping one random colour channel of a patch and replacing
            the other two with faint noise (against chromatic-aberration shortcuts).
        hidden_dim: Hidden size of the classifier on the concatenated pair.
    """

    resize: int | None = 64
    gap: int = 4
    jitter: int = 2
    channel_drop: float = 0.5
    hidden_dim: int = 512


@dataclass
class JigsawConfig:
    """Jigsaw puzzles (Noroozi & Favaro 2016): 9 shuffled tiles, K-way permutation label.

    Attributes:
        num_permutations: K, the size of the maximal-Hamming permutation set (64).
        permutation_seed: Seed of the greedy permutation selection.
        candidates: Draw the set from this many random permutations (None: all 9!).
        resize: Resize images to this size before cutting the grid (None: keep).
        gap: Minimum pixels between neighbouring tiles.
        jitter: Random shift of each tile in pixels.
        hidden_dim: Hidden size of the classifier on the 9 concatenated tile features.
    """

    num_permutations: int = 64
    permutation_seed: int = 0
    candidates: int | None = None
    resize: int | None = 64
    gap: int = 2
    jitter: int = 1
    hidden_dim: int = 512


@dataclass
class InpaintingConfig:
    """Context encoder (Pathak et al. 2016): reconstruct masked regions.

    Attributes:
        mask: ``block`` (random squares), ``region`` (random blobs) or ``center``.
        mask_fraction: Approximate masked share of the image (0.25).
        num_blocks: Squares per image for ``block`` masks.
        adv_weight: Weight of the adversarial term on the generator (0: L2 only; Pathak: 1e-3).
    """

    mask: str = "block"
    mask_fraction: float = 0.25
    num_blocks: int = 2
    adv_weight: float = 0.0


@dataclass
class ColorizationConfig:
    """Colorization (Zhang et al. 2016, regression variant): L channel in, ab channels out.

    Attributes:
        loss: ``l2`` or ``smooth_l1`` on ``ab / 110``.
        flip: Random horizontal flip (default True).
    """

    loss: Literal["l2", "smooth_l1"] = "l2"
    flip: bool = True


@dataclass
class ProbeConfig:
    """The labelled set of the live probe (run every ``trainer.probe_every`` steps).

    Attributes:
        data: Image source of the probe: ``digits`` (default), ``cifar10`` or a folder; its
            train split fits the kNN (and linear) probe, its test split is scored.
        train_limit: Labelled training images (a seeded subset; default 500).
        test_limit: Scored test images (default 500).
        k: kNN neighbours (default 20).
        knn_temperature: Temperature of the kNN vote weights (0.07).
        linear: Also fit a logistic-regression probe (default False; slower).
    """

    data: str = "digits"
    train_limit: int | None = 500
    test_limit: int | None = 500
    k: int = 20
    knn_temperature: float = 0.07
    linear: bool = False


@dataclass
class ImagePretrainConfig:
    """Everything an ``imagessl pretrain`` run needs; ``configs/*.yaml`` serialise it.

    The defaults are the embedded quick run of ``imagessl pretrain`` without ``--config``: digits,
    a small ConvNet (width 16, 3 stages), batch 128, 10 epochs, a kNN probe every 50 steps
    (:func:`default_config` sets the epochs per method).
    """

    method: str = "simclr"
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(
        default_factory=lambda: EncoderConfig("convnet", width=16, num_stages=3)
    )
    simclr: SimCLRConfig = field(default_factory=SimCLRConfig)
    rotation: RotationConfig = field(default_factory=RotationConfig)
    relpatch: RelPatchConfig = field(default_factory=RelPatchConfig)
    jigsaw: JigsawConfig = field(default_factory=JigsawConfig)
    inpainting: InpaintingConfig = field(default_factory=InpaintingConfig)
    colorization: ColorizationConfig = field(default_factory=ColorizationConfig)
    cpc: CPCConfig = field(default_factory=CPCConfig)
    moco: MoCoConfig = field(default_factory=MoCoConfig)
    byol: BYOLConfig = field(default_factory=BYOLConfig)
    swav: SwAVConfig = field(default_factory=SwAVConfig)
    trainer: TrainerConfig = field(
        default_factory=lambda: TrainerConfig(
            epochs=10,
            batch_size=128,
            lr=1e-3,
            weight_decay=1e-6,
            warmup_epochs=0,
            log_every=10,
            probe_every=50,
            out_dir="runs/imagessl",
        )
    )
    probe: ProbeConfig = field(default_factory=ProbeConfig)

    def __post_init__(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ConfigError(
                f"unknown method {self.method!r}{did_you_mean(self.method, METHOD_NAMES)}; "
                f"choose one of {', '.join(METHOD_NAMES)} (--method)"
            )
        if self.method in CONTRASTIVE_METHODS and self.trainer.batch_size < 2:
            raise ConfigError(
                f"--batch-size {self.trainer.batch_size}: {self.method} contrasts the images of "
                "a batch and needs at least 2 per batch; use --batch-size 2 or more"
            )


QUICK_EPOCHS: dict[str, int] = {"relpatch": 20, "jigsaw": 15, "cpc": 2}
"""Epochs of the embedded default per method (others: 10), so that each run of
``imagessl pretrain --method M`` on digits takes about two minutes on two CPU cores."""


def default_config(method: str = "simclr") -> ImagePretrainConfig:
    """The embedded default run of ``method``: digits, the small ConvNet, a kNN probe.

    ``imagessl pretrain --method M`` without ``--config`` starts from this.
    """
    cfg = ImagePretrainConfig(method=method)
    cfg.trainer.epochs = QUICK_EPOCHS.get(method, cfg.trainer.epochs)
    if method == "cpc":
        cfg.encoder = EncoderConfig("convnet", width=16, num_stages=2, norm="layer")
        cfg.cpc.channel_drop = 0.0  # digits are grey: dropping channels only dims the patches
        cfg.trainer.batch_size = 32  # 49 patches per image
    return cfg


@dataclass
class EvalConfig:
    """Frozen-feature evaluation settings.

    Attributes:
        protocol: ``linear`` (standardised features + logistic regression), ``knn``, or
            ``finetune`` (encoder + linear head trained end to end, :mod:`imagessl.finetune`).
        k: Neighbours of the kNN vote (200; capped, with a warning, at the mean number of
            training images per class).
        knn_temperature: Temperature of the ``exp(cos / T)`` vote weights (0.07).
        C: Inverse L2 strength of the logistic regression.
        max_iter: Iterations of the logistic regression solver.
        batch_size: Images per forward pass when embedding; the fine-tuning batch size.
        finetune_epochs: Epochs of fine-tuning (10).
        finetune_lr: Adam learning rate of the new head (1e-3), cosine-decayed to 0.
        encoder_lr_scale: The encoder's learning rate relative to the head's (0.1).
        finetune_weight_decay: Adam weight decay while fine-tuning (1e-5).
        crop_padding: Reflection padding of the random-crop augmentation (4 pixels; 0: flips
            only).
        seed: Seed of the head's initialisation, the data order and the augmentation (0).
    """

    protocol: Literal["linear", "knn", "finetune"] = "linear"
    k: int = 200
    knn_temperature: float = 0.07
    C: float = 1.0
    max_iter: int = 1000
    batch_size: int = 256
    finetune_epochs: int = 10
    finetune_lr: float = 1e-3
    encoder_lr_scale: float = 0.1
    finetune_weight_decay: float = 1e-5
    crop_padding: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("k", "max_iter", "batch_size", "finetune_epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"EvalConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.knn_temperature <= 0 or self.C <= 0 or self.finetune_lr <= 0:
            raise ConfigError("EvalConfig: knn_temperature, C and finetune_lr must be > 0")
        if self.encoder_lr_scale < 0 or self.finetune_weight_decay < 0:
            raise ConfigError("EvalConfig: encoder_lr_scale and finetune_weight_decay must be >= 0")
        if self.crop_padding < 0 or self.seed < 0:
            raise ConfigError("EvalConfig: crop_padding and seed must be >= 0")


def load_pretrain_config(path: str | Path) -> ImagePretrainConfig:
    """Load a YAML preset strictly into an :class:`ImagePretrainConfig`.

    Raises:
        molssl.contrastive.config.ConfigError: Unknown keys, wrong types or a missing file.
    """
    return load_yaml(ImagePretrainConfig, path)
