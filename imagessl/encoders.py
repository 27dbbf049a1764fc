"""Image encoders (a registry) and the upsampling decoder of the encoder-decoder pretext tasks.

Every encoder maps ``float [N, C_in, H, W]`` to a feature map ``[N, out_dim, H/stride, W/stride]``
(:meth:`forward_features`) and to its global-average-pooled embedding ``h = [N, out_dim]``
(:meth:`forward`), the representation evaluated by the linear probe and kNN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from torch import Tensor, nn
from torch.nn import functional as F

from imagessl.config import EncoderConfig

__all__ = [
    "ENCODERS",
    "NORMS",
    "ConvNet",
    "Decoder",
    "ImageEncoder",
    "ResNetEncoder",
    "build_encoder",
]

NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    "layer": partial(nn.GroupNorm, 1),
}
"""Normalisation layers by name: ``batch`` (BatchNorm) or ``layer`` (layer norm over channels
and space, ``GroupNorm(1, C)``, which never mixes images or patches of a batch; CPC v2)."""


class ImageEncoder(nn.Module):
    """Base class: subclasses set ``out_dim`` and ``stride`` and implement ``forward_features``."""

    out_dim: int
    stride: int

    def forward_features(self, x: Tensor) -> Tensor:
        """``[N, C_in, H, W] -> [N, out_dim, ceil(H/stride), ceil(W/stride)]``."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Embedding ``h``: the feature map averaged over space, ``[N, out_dim]``."""
        return self.forward_features(x).mean(dim=(2, 3))


class ResNetEncoder(ImageEncoder):
    """A torchvision ResNet without its classifier, optionally with the small-image stem.

    With ``small_images=True`` (SimCLR's CIFAR variant) the first convolution is 3x3 with stride 1
    and the max-pool is removed, so a 32x32 input ends as a 4x4 map (stride 8) instead of 1x1.

    Args:
        arch: ``resnet18``, ``resnet34`` or ``resnet50`` (random initialisation).
        small_images: Use the small-image stem (default True).
        in_channels: Input channels (default 3).
        norm: A key of :data:`NORMS` (default ``batch``).
    """

    def __init__(
        self,
        arch: str = "resnet18",
        small_images: bool = True,
        in_channels: int = 3,
        norm: str = "batch",
    ):
        super().__init__()
        import torchvision

        net = getattr(torchvision.models, arch)(weights=None, norm_layer=_norm(norm))
        if small_images:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layers = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.out_dim = net.fc.in_features
        self.stride = 8 if small_images else 32

    def forward_features(self, x: Tensor) -> Tensor:
        return self.layers(self.stem(x))


def _norm(name: str) -> Callable[[int], nn.Module]:
    if name not in NORMS:
        raise ValueError(f"unknown encoder.norm {name!r}; choose one of {sorted(NORMS)}")
    return NORMS[name]


def _conv_bn(c_in: int, c_out: int, stride: int = 1, norm: str = "batch") -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        _norm(norm)(c_out),
        nn.ReLU(inplace=True),
    )


class ConvNet(ImageEncoder):
    """A small VGG-style encoder for tests and quick runs.

    ``num_stages`` stages of two 3x3 conv-BN-ReLU layers; every stage after the first starts with
    a stride-2 convolution and doubles the channels: ``width, 2*width, 4*width, ...``.

    Args:
        width: Channels of the first stage (default 32).
        num_stages: Number of stages, >= 1 (default 3: stride 4, ``out_dim = 4 * width``).
        in_channels: Input channels (default 3).
        norm: A key of :data:`NORMS` (default ``batch``).

    Raises:
        ValueError: If ``width`` or ``num_stages`` is < 1, or ``norm`` is unknown.
    """

    def __init__(
        self, width: int = 32, num_stages: int = 3, in_channels: int = 3, norm: str = "batch"
    ) -> None:
        super().__init__()
        if width < 1 or num_stages < 1:
            raise ValueError(
                f"ConvNet needs width >= 1 and num_stages >= 1, got {width}, {num_stages}"
            )
        layers: list[nn.Module] = []
        c_in = in_channels
        for stage in range(num_stages):
            c_out = width * 2**stage
            layers += [
                _conv_bn(c_in, c_out, stride=1 if stage == 0 else 2, norm=norm),
                _conv_bn(c_out, c_out, norm=norm),
            ]
            c_in = c_out
        self.net = nn.Sequential(*layers)
        self.out_dim = c_in
        self.stride = 2 ** (num_stages - 1)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.net(x)


ENCODERS: dict[str, Callable[[EncoderConfig], ImageEncoder]] = {
    "resnet18": lambda c: ResNetEncoder("resnet18", c.small_images, norm=c.norm),
    "resnet34": lambda c: ResNetEncoder("resnet34", c.small_images, norm=c.norm),
    "resnet50": lambda c: ResNetEncoder("resnet50", c.small_images, norm=c.norm),
    "convnet": lambda c: ConvNet(c.width, c.num_stages, norm=c.norm),
}
"""Encoder builders by name."""


def build_encoder(config: EncoderConfig) -> ImageEncoder:
    """Build the encoder named by ``config.name``.

    Raises:
        ValueError: If the name is not in :data:`ENCODERS` (the message lists them).
    """
    if config.name not in ENCODERS:
        raise ValueError(f"unknown encoder {config.name!r}; choose one of {sorted(ENCODERS)}")
    return ENCODERS[config.name](config)


class Decoder(nn.Module):
    """Upsample an encoder feature map back to image size (context encoder, colorization).

    ``log2(stride)`` stages of (2x nearest upsampling, 3x3 conv-BN-ReLU), halving the channels
    each time (at least 16), then a 3x3 convolution to ``out_channels`` and a final bilinear
    resize to exactly ``size``.

    Args:
        in_channels: Channels of the feature map (the encoder's ``out_dim``).
        out_channels: Output channels (3 for RGB, 2 for ab).
        stride: The encoder's stride (a power of two).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        c = in_channels
        for _ in range(int(round(math.log2(max(stride, 1))))):
            c_out = max(c // 2, 16)
            stages += [nn.Upsample(scale_factor=2, mode="nearest"), _conv_bn(c, c_out)]
            c = c_out
        self.up = nn.Sequential(*stages)
        self.out = nn.Conv2d(c, out_channels, 3, padding=1)

    def forward(self, features: Tensor, size: tuple[int, int]) -> Tensor:
        """``[N, in_channels, h, w] -> [N, out_channels, *size]``."""
        y = self.out(self.up(features))
        if tuple(y.shape[-2:]) != tuple(size):
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return y
