"""Fine-tuning evaluation: the pretrained encoder plus a linear classifier, trained end to end.

The third evaluation protocol next to the frozen-feature linear probe and kNN
(:mod:`imagessl.evaluate`). The encoder starts from the checkpoint's weights (a copy: the
caller's module is left untouched), a new ``Linear(out_dim, num_classes)`` head is added, and
both are trained with cross-entropy on the labelled training split:

- Adam with a cosine learning-rate decay over ``finetune_epochs``; the head learns at
  ``finetune_lr`` and the encoder at ``finetune_lr * encoder_lr_scale`` (default 0.1, so the
  pretrained weights move less than the new head);
- the standard supervised CIFAR augmentation on the training images: a random crop of the image
  padded by ``crop_padding`` pixels (reflection) and a horizontal flip with probability 0.5,
  drawn from a seeded generator;
- BatchNorm in training mode while training, eval mode for the test pass;
- the model after the last epoch is scored (no selection on the test split).

The encoder's evaluation input (``input_fn``, e.g. the lightness channel for colorization) is
applied after the augmentation, so each method is fine-tuned on the input it was pretrained on.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from imagessl.config import EvalConfig
from imagessl.encoders import ImageEncoder

__all__ = ["finetune_accuracy", "random_crop_flip"]

logger = logging.getLogger(__name__)


def random_crop_flip(images: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Per-image random crop (after reflection padding) and horizontal flip of ``[N, C, H, W]``.

    Args:
        images: A batch of images (any dtype); the output has the same shape and dtype.
        padding: Pixels of reflection padding on every side before cropping (0: flip only).
        generator: Source of the crop offsets and flips.
    """
    n, _, height, width = images.shape
    if padding > 0:
        padded = F.pad(images.float(), (padding,) * 4, mode="reflect").to(images.dtype)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).tolist()
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).tolist()
        images = torch.stack(
            [
                padded[i, :, y : y + height, x : x + width]
                for i, (y, x) in enumerate(zip(dy, dx, strict=True))
            ]
        )
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def finetune_accuracy(
    encoder: ImageEncoder,
    input_fn: Callable[[Tensor], Tensor],
    train_images: Tensor,
    train_labels: Tensor,
    test_images: Tensor,
    test_labels: Tensor,
    cfg: EvalConfig,
    *,
    device: str | torch.device = "cpu",
) -> float:
    """Fine-tune a copy of ``encoder`` with a linear head; return top-1 accuracy on the test split.

    Args:
        encoder: The pretrained encoder (not modified).
        input_fn: Maps a ``uint8`` image batch to the encoder's input.
        train_images, train_labels: ``uint8 [N, C, H, W]`` and ``long [N]``.
        test_images, test_labels: The evaluation split.
        cfg: ``finetune_epochs``, ``finetune_lr``, ``encoder_lr_scale``, ``finetune_weight_decay``,
            ``crop_padding``, ``batch_size`` and ``seed`` are used.
        device: Where to train.

    Raises:
        ValueError: Empty splits.
    """
    if len(train_images) == 0 or len(test_images) == 0:
        raise ValueError("fine-tuning needs non-empty train and test splits")
    device = torch.device(device)
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # the head's initialisation
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    model = nn.Sequential(copy.deepcopy(encoder), nn.Linear(encoder.out_dim, num_classes))
    model.to(device)
    optimizer = torch.optim.Adam(
        [
            {"params": model[0].parameters(), "lr": cfg.finetune_lr * cfg.encoder_lr_scale},
            {"params": model[1].parameters(), "lr": cfg.finetune_lr},
        ],
        weight_decay=cfg.finetune_weight_decay,
    )
    steps_per_epoch = math.ceil(len(train_images) / cfg.batch_size)
    total = cfg.finetune_epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    )
    model.train()
    for epoch in range(cfg.finetune_epochs):
        order = torch.randperm(len(train_images), generator=generator)
        running, seen = 0.0, 0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            images = random_crop_flip(train_images[idx], cfg.crop_padding, generator)
            logits = model(input_fn(images.to(device)))
            loss = F.cross_entropy(logits, train_labels[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += float(loss.detach()) * len(idx)
            seen += len(idx)
        logger.info(
            "fine-tune epoch %d/%d: loss %.4f",
            epoch + 1,
            cfg.finetune_epochs,
            running / max(seen, 1),
        )
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test_images), cfg.batch_size):
            logits = model(input_fn(test_images[start : start + cfg.batch_size].to(device)))
            labels = test_labels[start : start + cfg.batch_size].to(device)
            correct += int((logits.argmax(dim=1) == labels).sum())
    return correct / len(test_images)
