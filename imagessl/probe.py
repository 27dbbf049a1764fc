"""Live probe of image pretraining: kNN (and optionally linear) accuracy of the frozen encoder.

``imagessl pretrain`` with ``trainer.probe_every`` set hands an :class:`ImageProbe` to the
generic trainer, which calls it every ``probe_every`` steps (eval mode, no gradients). The probe
loads its labelled images once (``probe.data``: digits, a CIFAR-10 subset or a folder), embeds
them with the model's encoder and the method's evaluation input (the same as ``imagessl eval``),
and returns ``knn_acc`` (and ``linear_acc``) on the probe's test split, scored as
:func:`imagessl.evaluate.knn_accuracy` and :func:`~imagessl.evaluate.linear_probe_accuracy` do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from torch import Tensor, nn

from imagessl.config import DataConfig, EvalConfig, ProbeConfig
from imagessl.data import load_images
from imagessl.evaluate import embed, knn_accuracy, linear_probe_accuracy

__all__ = ["ImageProbe"]

logger = logging.getLogger(__name__)


class ImageProbe:
    """``model -> {"knn_acc": ..., ["linear_acc": ...]}`` on a small labelled image set.

    Args:
        cfg: Probe settings.
        input_fn: ``uint8`` images -> encoder input (the method's evaluation input).
        image_size: Resize the probe images to the training size (None: keep).
        batch_size: Images per forward pass.

    Raises:
        imagessl.data.ImageDataError: The probe data cannot be read (raised here, before training).
    """

    def __init__(
        self,
        cfg: ProbeConfig,
        input_fn: Callable[[Tensor], Tensor],
        image_size: int | None = None,
        batch_size: int = 256,
    ) -> None:
        data = DataConfig(cfg.data, image_size, limit=cfg.train_limit, test_limit=cfg.test_limit)
        self.train, self.test = load_images(data, "train"), load_images(data, "test")
        self.input_fn, self.batch_size = input_fn, batch_size
        self.linear = cfg.linear
        self.eval_cfg = EvalConfig("knn", k=cfg.k, knn_temperature=cfg.knn_temperature)
        logger.info(
            "probe: %s, %d train / %d test images", cfg.data, len(self.train), len(self.test)
        )

    def __call__(self, model: nn.Module) -> dict[str, float]:
        """Scores of ``model.encoder`` (the trainer calls it in eval mode, without grad)."""
        encoder = model.encoder
        device = next(encoder.parameters()).device
        kwargs = {"batch_size": self.batch_size, "device": device}
        train_x = embed(encoder, self.train.images, self.input_fn, **kwargs)
        test_x = embed(encoder, self.test.images, self.input_fn, **kwargs)
        args = (train_x, self.train.labels, test_x, self.test.labels, self.eval_cfg)
        scores = {"knn_acc": knn_accuracy(*args)}
        if self.linear:
            scores["linear_acc"] = linear_probe_accuracy(*args)
        return scores
