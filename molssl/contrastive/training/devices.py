"""One check of a requested device, run by every command before any long work.

``--device cuda`` on a machine without CUDA used to fail only after minutes of data loading
(``finetune``) or with torch's raw driver error (``embed``); :func:`check_device` says so in one
line up front. It imports torch only for a device other than ``cpu``/``auto``.
"""

from __future__ import annotations

import warnings

from molssl.contrastive.config import ConfigError

__all__ = ["DeviceError", "check_device"]


class DeviceError(ConfigError):
    """The requested device does not exist or cannot be used on this machine."""


def check_device(name: str, *, flag: str = "--device") -> str:
    """Check that ``name`` is a device this machine can run on.

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        flag: How the user gave it, for the message (``--device``, ``trainer.device``).

    Returns:
        ``name`` stripped and lower-cased.

    Raises:
        DeviceError: An unknown device string, CUDA requested where torch has no CUDA build or
            sees no GPU, or a GPU index beyond the visible ones.
    """
    text = str(name).strip().lower()
    if text in ("auto", "cpu"):
        return text
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError) as err:
        raise DeviceError(
            f"{flag} {name!r} is not a device; use cpu, cuda, cuda:N or auto"
        ) from err
    if device.type != "cuda":
        raise DeviceError(f"{flag} {name!r}: only cpu, cuda, cuda:N and auto are supported")
    with warnings.catch_warnings():  # a broken driver warns here; the message below says it all
        warnings.simplefilter("ignore")
        available = torch.cuda.is_available()
        count = torch.cuda.device_count() if available else 0
    if not available:
        why = (
            "this torch build has no CUDA support"
            if torch.version.cuda is None
            else "no usable NVIDIA GPU or driver was found"
        )
        raise DeviceError(f"{flag} {name}: CUDA is not available here ({why}); use {flag} cpu")
    if device.index is not None and device.index >= count:
        raise DeviceError(
            f"{flag} {name}: only {count} CUDA device(s) are visible (cuda:0..cuda:{count - 1})"
        )
    return text
