"""Registry of image SSL methods: each builds ``(model, objective)`` for the generic Trainer.

A method is registered with :func:`register_method` under the name of its config section in
:class:`~imagessl.config.ImagePretrainConfig` (``simclr``, ``rotation``, ...). Its builder gets
that section, a fresh encoder and a :class:`MethodContext`, and returns a model (an
``nn.Module`` with an ``encoder`` attribute, called once per step so DDP synchronises it) and an
objective ``(model, batch, generator) -> (loss, metrics)``. ``embed_input`` turns ``uint8``
images into the encoder input used for frozen-feature evaluation; ``wrap_encoder`` (optional)
turns the configured backbone into the method's encoder (CPC's patch encoder) in pretraining and
when a checkpoint is loaded for evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from imagessl.encoders import ImageEncoder
from imagessl.transforms import Normalize
from molssl.contrastive.config import did_you_mean

__all__ = [
    "METHODS",
    "Method",
    "MethodContext",
    "Objective",
    "UnknownMethodError",
    "get_method",
    "register_method",
]

Objective = Callable[[nn.Module, Any, torch.Generator], tuple[Tensor, Mapping[str, float]]]


class UnknownMethodError(ValueError):
    """The requested method is not registered."""


@dataclass(frozen=True)
class MethodContext:
    """What a builder needs to know about the data.

    Attributes:
        image_size: Side of the (square) training images.
        normalize: Per-channel standardisation of the training set.
    """

    image_size: int
    normalize: Normalize


Builder = Callable[[Any, ImageEncoder, MethodContext], tuple[nn.Module, Objective]]
EmbedInput = Callable[[Tensor, MethodContext], Tensor]
WrapEncoder = Callable[[Any, ImageEncoder], ImageEncoder]


def _normalized(images: Tensor, ctx: MethodContext) -> Tensor:
    return ctx.normalize(images)


@dataclass(frozen=True)
class Method:
    """A registered method: builder, evaluation input, ``collate_fn`` factory, encoder wrapper."""

    name: str
    build: Builder
    embed_input: EmbedInput = _normalized
    collate: Callable[[Any, MethodContext], Callable | None] | None = None
    wrap_encoder: WrapEncoder | None = None
    encoder_prefix: str = "encoder."

    def encoder(self, section: Any, backbone: ImageEncoder) -> ImageEncoder:
        """The method's encoder around ``backbone`` (the backbone itself by default)."""
        return backbone if self.wrap_encoder is None else self.wrap_encoder(section, backbone)


METHODS: dict[str, Method] = {}
"""Methods by name; filled by the modules of :mod:`imagessl.methods`."""


def register_method(
    name: str,
    *,
    embed_input: EmbedInput | None = None,
    collate: Callable[[Any, MethodContext], Callable | None] | None = None,
    wrap_encoder: WrapEncoder | None = None,
    encoder_prefix: str = "encoder.",
) -> Callable[[Builder], Builder]:
    """Decorator registering a builder under ``name`` (must be a config section name).

    ``encoder_prefix`` is where the encoder's weights sit in the model's ``state_dict``
    (``online.encoder.`` for the momentum methods).
    """

    def decorator(build: Builder) -> Builder:
        METHODS[name] = Method(
            name, build, embed_input or _normalized, collate, wrap_encoder, encoder_prefix
        )
        return build

    return decorator


def get_method(name: str) -> Method:
    """The method registered as ``name``.

    Raises:
        UnknownMethodError: If ``name`` is not registered (the message lists the valid names).
    """
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownMethodError(
            f"unknown method {name!r}{did_you_mean(name, METHODS)}; choose one of {sorted(METHODS)}"
        ) from None


def split_batch(batch: Any) -> tuple[Any, Tensor | None]:
    """``(images, labels)`` of a default-collated ``[images, labels]`` batch."""
    if isinstance(batch, list | tuple) and len(batch) == 2:
        return batch[0], batch[1]
    return batch, None
