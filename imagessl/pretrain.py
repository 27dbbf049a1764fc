"""Self-supervised pretraining of an image encoder (``imagessl pretrain``).

``pretrain(config)`` loads the images (decoded once), builds the encoder and the method's model
and objective from the registries, and runs the generic
:class:`~molssl.contrastive.training.trainer.Trainer` (atomic checkpoints, resume, DDP under ``torchrun``,
CSV/TensorBoard logs, progress bar). Checkpoints carry the resolved config and an ``imagessl``
entry (method, image size, normalisation, classes) so that :mod:`imagessl.evaluate` can
rebuild the encoder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from imagessl.config import ImagePretrainConfig
from imagessl.data import ImageSet, load_images
from imagessl.encoders import build_encoder
from imagessl.methods import MethodContext, get_method
from imagessl.methods.registry import Objective
from imagessl.probe import ImageProbe
from imagessl.transforms import Normalize
from molssl.contrastive.config import to_dict
from molssl.contrastive.training.trainer import StepCallback, Trainer, TrainResult

__all__ = ["BuiltMethod", "build_method", "pretrain"]

logger = logging.getLogger(__name__)


@dataclass
class BuiltMethod:
    """A method ready to train: model, objective, optional ``collate_fn`` and its context."""

    model: nn.Module
    objective: Objective
    collate_fn: Any
    context: MethodContext


def build_method(
    config: ImagePretrainConfig,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> BuiltMethod:
    """Build encoder, model and objective of ``config.method``.

    Args:
        config: The run configuration (its ``encoder`` and method section are used).
        image_size: Side of the training images.
        mean: Per-channel mean of the [0, 1] training images.
        std: Per-channel std.

    Raises:
        imagessl.methods.UnknownMethodError: Unknown ``config.method``.
        ValueError: Unknown encoder or invalid method settings.
    """
    method = get_method(config.method)
    section = getattr(config, config.method)
    ctx = MethodContext(image_size, Normalize(mean, std))
    encoder = method.encoder(section, build_encoder(config.encoder))
    model, objective = method.build(section, encoder, ctx)
    collate = method.collate(section, ctx) if method.collate else None
    return BuiltMethod(model, objective, collate, ctx)


def _split_valid(data: ImageSet, valid_size: float, seed: int) -> tuple[ImageSet, ImageSet | None]:
    if not 0.0 <= valid_size < 1.0:
        raise ValueError(f"data.valid_size must be in [0, 1), got {valid_size}")
    n_valid = int(valid_size * len(data))
    if n_valid < 2:
        return data, None
    perm = np.random.default_rng(seed).permutation(len(data))
    train_idx, valid_idx = np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
    pick = lambda idx: ImageSet(data.images[idx], data.labels[idx], data.classes, data.report)  # noqa: E731
    return pick(train_idx), pick(valid_idx)


def pretrain(config: ImagePretrainConfig, *, callbacks: Sequence[StepCallback] = ()) -> TrainResult:
    """Pretrain an image encoder with ``config.method``.

    Args:
        config: The run's configuration; written to ``trainer.out_dir/config.yaml``.
        callbacks: Called as ``callback(trainer, step)`` after every step (e.g. a time budget
            that calls ``trainer.request_stop()``).

    Returns:
        The trainer's result (final step, checkpoint paths, history).

    Raises:
        imagessl.methods.UnknownMethodError: Unknown method (checked before loading data).
        imagessl.data.ImageDataError: Missing, empty or unreadable data.
        molssl.contrastive.config.ConfigError: Fewer training images than one batch (a ``ValueError``), or
            a device this machine does not have.
    """
    from molssl.contrastive.config import ConfigError
    from molssl.contrastive.training.devices import check_device

    get_method(config.method)
    tcfg = config.trainer
    check_device(tcfg.device, flag="--device")  # before any data is loaded
    data = load_images(config.data, "train")
    train, valid = _split_valid(data, config.data.valid_size, tcfg.seed)
    if len(train) < tcfg.batch_size and tcfg.drop_last:
        raise ConfigError(
            f"--batch-size {tcfg.batch_size} is larger than the {len(train)} training images; "
            "lower --batch-size or use more data"
        )
    mean, std = train.channel_stats()
    size = int(train.images.shape[-1])
    built = build_method(config, size, mean, std)
    probe = None
    if tcfg.probe_every and int(os.environ.get("RANK", "0")) == 0:
        embed_input = get_method(config.method).embed_input
        probe = ImageProbe(
            config.probe, lambda images: embed_input(images, built.context), config.data.image_size
        )
    logger.info(
        "pretraining %s (%s encoder) on %d images of %dpx (%d held out) from %s",
        config.method,
        config.encoder.name,
        len(train),
        size,
        0 if valid is None else len(valid),
        data.report.source,
    )
    trainer = Trainer(
        built.model,
        built.objective,
        train,
        tcfg,
        val_data=valid,
        collate_fn=built.collate_fn,
        run_config=to_dict(config),
        metadata={
            "imagessl": {
                "method": config.method,
                "image_size": size,
                "mean": mean,
                "std": std,
                "classes": list(train.classes),
                "data": data.report.summary(),
            }
        },
        callbacks=callbacks,
        probe=probe,
    )
    return trainer.fit()
