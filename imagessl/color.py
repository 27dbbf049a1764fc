"""sRGB <-> CIE Lab (D65) in torch, for colorization.

``rgb_to_lab`` follows the standard sRGB transfer curve, the sRGB-to-XYZ matrix (D65 white) and
the CIE 1976 L*a*b* definition (as ``skimage.color.rgb2lab``): ``L`` in [0, 100], ``a``/``b``
roughly in [-110, 110]. Both functions work on any ``(..., 3, H, W)`` float tensor and are
differentiable.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lab_to_rgb", "rgb_to_lab"]

_RGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])
_EPS = 216.0 / 24389.0
_KAPPA = 24389.0 / 27.0


def _channels_last_matmul(x: Tensor, matrix: Tensor) -> Tensor:
    return torch.einsum("ij,...jhw->...ihw", matrix.to(x), x)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """Convert sRGB in [0, 1] to CIE Lab.

    Args:
        rgb: ``float (..., 3, H, W)`` in [0, 1].

    Returns:
        ``(..., 3, H, W)``: ``L`` in [0, 100], then ``a``, ``b``.

    Raises:
        ValueError: If the channel dimension (``-3``) is not 3.
    """
    if rgb.dim() < 3 or rgb.shape[-3] != 3:
        raise ValueError(f"rgb must have shape (..., 3, H, W), got {tuple(rgb.shape)}")
    linear = torch.where(
        rgb > 0.04045, ((rgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92
    )
    xyz = _channels_last_matmul(linear, _RGB_TO_XYZ) / _WHITE.to(rgb).view(3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp_min(_EPS) ** (1.0 / 3.0), (_KAPPA * xyz + 16.0) / 116.0)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """Convert CIE Lab back to sRGB, clipped to [0, 1] (inverse of :func:`rgb_to_lab`).

    Args:
        lab: ``float (..., 3, H, W)``.

    Returns:
        ``(..., 3, H, W)`` sRGB in [0, 1].
    """
    if lab.dim() < 3 or lab.shape[-3] != 3:
        raise ValueError(f"lab must have shape (..., 3, H, W), got {tuple(lab.shape)}")
    light, a, b = lab.unbind(dim=-3)
    fy = (light + 16.0) / 116.0
    f = torch.stack([fy + a / 500.0, fy, fy - b / 200.0], dim=-3)
    xyz = torch.where(f**3 > _EPS, f**3, (116.0 * f - 16.0) / _KAPPA)
    xyz = xyz * _WHITE.to(lab).view(3, 1, 1)
    linear = _channels_last_matmul(xyz, torch.linalg.inv(_RGB_TO_XYZ)).clamp(0.0, 1.0)
    rgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055, 12.92 * linear
    )
    return rgb.clamp(0.0, 1.0)
