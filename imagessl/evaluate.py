"""Evaluation of a pretrained encoder: linear probe and weighted kNN on frozen embeddings, or
fine-tuning.

- ``linear``: embeddings standardised on the training split, multinomial logistic regression
  (scikit-learn, L-BFGS), top-1 accuracy on the test split.
- ``knn``: L2-normalised embeddings, the ``k`` (default 200) most cosine-similar training
  images vote with weight ``exp(cos / T)`` (T=0.07), as in InstDisc (Wu et al. 2018) and
  solo-learn; top-1 accuracy. ``k`` is capped, with a warning, at the mean number of training
  images per class: a larger vote reaches into other classes even for a perfect embedding, and
  with ``k`` near the training size every image votes and the accuracy falls to chance.

- ``finetune``: the encoder plus a linear head trained end to end on the training split
  (:mod:`imagessl.finetune`), top-1 accuracy on the test split.

``evaluate_checkpoint`` rebuilds the encoder from an ``imagessl pretrain`` checkpoint (loaded with
``weights_only=True``) and feeds it the method's evaluation input (e.g. lightness for
colorization).
"""

from __future__ import annotations

import dataclasses
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from imagessl.config import DataConfig, EvalConfig, ImagePretrainConfig
from imagessl.data import load_images
from imagessl.encoders import ImageEncoder, build_encoder
from imagessl.methods import MethodContext, get_method
from imagessl.transforms import Normalize
from molssl.contrastive.config import from_dict
from molssl.contrastive.io.checkpoint import CheckpointError, load_checkpoint

__all__ = [
    "PROTOCOLS",
    "EvalResult",
    "LoadedEncoder",
    "data_with_path",
    "embed",
    "evaluate_checkpoint",
    "evaluate_features",
    "knn_accuracy",
    "knn_k",
    "linear_probe_accuracy",
    "load_encoder",
]

logger = logging.getLogger(__name__)


@torch.no_grad()
def embed(
    encoder: nn.Module,
    images: Tensor,
    input_fn: Callable[[Tensor], Tensor],
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Embeddings ``float [N, D]`` (on CPU) of ``uint8 [N, 3, H, W]`` images, in eval mode."""
    was_training = encoder.training
    encoder.eval().to(device)
    out = [
        encoder(input_fn(images[i : i + batch_size].to(device))).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    encoder.train(was_training)
    return torch.cat(out)


def linear_probe_accuracy(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, cfg: EvalConfig
) -> float:
    """Standardise on train, fit logistic regression, return test top-1 accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.numpy())
    clf = LogisticRegression(C=cfg.C, max_iter=cfg.max_iter)
    clf.fit(scaler.transform(train_x.numpy()), train_y.numpy())
    pred = clf.predict(scaler.transform(test_x.numpy()))
    return float(np.mean(pred == test_y.numpy()))


def knn_k(k: int, train_y: Tensor) -> int:
    """``k`` capped at the mean number of training images per class (at least 1).

    Logs a warning when it caps: with ``k`` at or above the training size every training image
    votes, and the weighted vote falls to (near) chance without any error.

    Args:
        k: Requested neighbours.
        train_y: ``long [N]`` training labels.
    """
    num_classes = max(int(torch.unique(train_y).numel()), 1)
    cap = max(1, len(train_y) // num_classes)
    if k > cap:
        logger.warning(
            "kNN k=%d capped at %d, the mean number of training images per class (%d images, "
            "%d classes): a larger vote reaches into other classes; pass a smaller k or use "
            "more training images",
            k,
            cap,
            len(train_y),
            num_classes,
        )
        return cap
    return k


def knn_accuracy(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, cfg: EvalConfig
) -> float:
    """Temperature-weighted cosine kNN vote (``k`` capped by :func:`knn_k`)."""
    k = knn_k(cfg.k, train_y)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    train_n = nn.functional.normalize(train_x.float(), dim=1)
    test_n = nn.functional.normalize(test_x.float(), dim=1)
    correct = 0
    for i in range(0, len(test_n), 512):
        sim, idx = (test_n[i : i + 512] @ train_n.T).topk(k, dim=1)
        weights = (sim / cfg.knn_temperature).exp()
        votes = torch.zeros(len(sim), num_classes).scatter_add_(1, train_y[idx], weights)
        correct += int((votes.argmax(dim=1) == test_y[i : i + 512]).sum())
    return correct / len(test_n)


PROTOCOLS: dict[str, Callable[[Tensor, Tensor, Tensor, Tensor, EvalConfig], float]] = {
    "linear": linear_probe_accuracy,
    "knn": knn_accuracy,
}
"""Evaluation protocols on ``(train_x, train_y, test_x, test_y, cfg) -> accuracy``."""


def evaluate_features(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, cfg: EvalConfig
) -> float:
    """Accuracy of ``cfg.protocol`` on given features.

    Raises:
        ValueError: Unknown protocol or empty splits.
    """
    if cfg.protocol not in PROTOCOLS:
        hint = (
            " (fine-tuning needs the encoder, not features)" if cfg.protocol == "finetune" else ""
        )
        raise ValueError(
            f"unknown feature protocol {cfg.protocol!r}{hint}; choose one of {sorted(PROTOCOLS)}"
        )
    if len(train_x) == 0 or len(test_x) == 0:
        raise ValueError("evaluation needs non-empty train and test splits")
    return PROTOCOLS[cfg.protocol](train_x, train_y, test_x, test_y, cfg)


@dataclass
class LoadedEncoder:
    """An encoder rebuilt from a checkpoint with its evaluation input and run config."""

    encoder: ImageEncoder
    input_fn: Callable[[Tensor], Tensor]
    config: ImagePretrainConfig


def load_encoder(checkpoint: str | Path) -> LoadedEncoder:
    """Rebuild the encoder of an ``imagessl pretrain`` checkpoint.

    Raises:
        FileNotFoundError: Missing file.
        CheckpointError: Corrupt file or not an imagessl checkpoint.
    """
    try:
        ckpt = load_checkpoint(checkpoint)
    except struct.error as exc:  # a non-zip file that the legacy unpickler trips over
        raise CheckpointError(
            f"cannot read checkpoint {checkpoint} ({exc}); the file is not a torch checkpoint"
        ) from exc
    meta = ckpt.get("imagessl")
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{checkpoint} is not an imagessl checkpoint (no 'imagessl' entry); pass a last.pt "
            "or best.pt written by `imagessl pretrain`"
        )
    config = from_dict(ImagePretrainConfig, ckpt["config"])
    method = get_method(config.method)
    encoder = method.encoder(getattr(config, config.method), build_encoder(config.encoder))
    prefix = method.encoder_prefix
    weights = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    encoder.load_state_dict(weights)
    ctx = MethodContext(int(meta["image_size"]), Normalize(meta["mean"], meta["std"]))
    return LoadedEncoder(encoder, lambda images: method.embed_input(images, ctx), config)


@dataclass
class EvalResult:
    """Accuracy of one protocol on one checkpoint and dataset."""

    protocol: str
    accuracy: float
    num_train: int
    num_test: int
    method: str
    checkpoint: str
    data: str


def evaluate_checkpoint(
    checkpoint: str | Path,
    cfg: EvalConfig,
    *,
    data: DataConfig | None = None,
    data_path: str | None = None,
    device: str = "cpu",
) -> EvalResult:
    """Score a checkpoint's encoder with ``cfg.protocol`` on a dataset's train/test splits.

    ``linear`` and ``knn`` embed both splits with the frozen encoder; ``finetune`` trains a copy
    of it with a linear head (:func:`imagessl.finetune.finetune_accuracy`).

    Args:
        checkpoint: ``last.pt``/``best.pt`` of ``imagessl pretrain``.
        cfg: Protocol settings.
        data: Images to evaluate on (default: the checkpoint's data config).
        data_path: Another image source (``digits``, ``cifar10`` or a folder) in place of the
            one in ``data``, keeping its other settings (limits, split seed).
        device: Where to run the encoder.
    """
    loaded = load_encoder(checkpoint)
    data = data_with_path(data or loaded.config.data, data_path)
    train, test = load_images(data, "train"), load_images(data, "test")
    if cfg.protocol == "finetune":
        from imagessl.finetune import finetune_accuracy

        acc = finetune_accuracy(
            loaded.encoder,
            loaded.input_fn,
            train.images,
            train.labels,
            test.images,
            test.labels,
            cfg,
            device=device,
        )
    else:
        kwargs = {"batch_size": cfg.batch_size, "device": device}
        train_x = embed(loaded.encoder, train.images, loaded.input_fn, **kwargs)
        test_x = embed(loaded.encoder, test.images, loaded.input_fn, **kwargs)
        acc = evaluate_features(train_x, train.labels, test_x, test.labels, cfg)
    logger.info("%s %s accuracy %.4f on %s", checkpoint, cfg.protocol, acc, data.path)
    return EvalResult(
        cfg.protocol, acc, len(train), len(test), loaded.config.method, str(checkpoint), data.path
    )


def data_with_path(base: DataConfig, path: str | None) -> DataConfig:
    """``base`` with ``path`` replaced (when given)."""
    return base if path is None else dataclasses.replace(base, path=str(path))
