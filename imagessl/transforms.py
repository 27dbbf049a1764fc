"""SimCLR's two-view augmentation (``torchvision.transforms.v2``) and input normalisation.

torchvision's transforms draw their parameters from torch's global RNG; :func:`rng_from` forks
that RNG and seeds it from the trainer's ``torch.Generator`` so that an augmented batch is a
deterministic function of the generator (and a resumed run sees the same views).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

__all__ = [
    "Normalize",
    "SimCLRViews",
    "TwoViewCollate",
    "rng_from",
    "simclr_augmentation",
    "single_thread",
]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block with one intra-op thread (restored afterwards).

    Per-image transforms of small images gain nothing from intra-op parallelism, and on a busy
    machine each tiny parallel region can wait milliseconds for its threads.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def rng_from(generator: torch.Generator | None) -> Iterator[None]:
    """Run the block with torch's CPU RNG seeded from ``generator`` (restored afterwards).

    With ``generator=None`` the global RNG is used as is (e.g. inside DataLoader workers, which
    torch seeds per worker).
    """
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class Normalize:
    """``uint8 [..., 3, H, W]`` -> float, scaled to [0, 1] and standardised per channel.

    Args:
        mean: Per-channel mean of [0, 1] images (the training set's).
        std: Per-channel standard deviation.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(3, 1, 1)

    def __call__(self, images: Tensor) -> Tensor:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return (x - self.mean.to(x.device)) / self.std.to(x.device)


def simclr_augmentation(
    size: int,
    color_strength: float = 0.5,
    crop_scale: tuple[float, float] = (0.08, 1.0),
    blur: bool | None = None,
):
    """The SimCLR augmentation of one ``uint8 [3, H, W]`` image (Chen et al. 2020, App. A).

    Random resized crop (area ``crop_scale``) to ``size``, horizontal flip (p=0.5), colour jitter
    ``(0.8s, 0.8s, 0.8s, 0.2s)`` with p=0.8, grayscale with p=0.2 and, where enabled, Gaussian
    blur (kernel ~10% of ``size``, sigma 0.1-2) with p=0.5; output ``uint8 [3, size, size]``.

    Args:
        size: Output side in pixels.
        color_strength: ``s``; SimCLR uses 1.0 on ImageNet and 0.5 on CIFAR-10.
        crop_scale: Area range of the crop (default 0.08-1).
        blur: Blur on or off; None enables it for ``size >= 64`` (not on CIFAR-sized images).

    Returns:
        A ``torchvision.transforms.v2.Compose``.
    """
    from torchvision.transforms import v2

    s = color_strength
    steps = [
        v2.RandomResizedCrop(size, scale=tuple(crop_scale), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8),
        v2.RandomGrayscale(p=0.2),
    ]
    if blur if blur is not None else size >= 64:
        kernel = max(3, int(0.1 * size) // 2 * 2 + 1)
        steps.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=0.5))
    return v2.Compose(steps)


class SimCLRViews:
    """Two independently augmented, normalised views of every image of a batch.

    Args:
        augmentation: Per-image transform (see :func:`simclr_augmentation`).
        normalize: Applied to the stacked views.

    Call:
        ``(images uint8 [B, 3, H, W], generator | None) -> (view_a, view_b)``, each
        ``float [B, 3, S, S]`` on the images' device. The per-image transforms run on the CPU.
    """

    def __init__(self, augmentation, normalize: Normalize) -> None:
        self.augmentation = augmentation
        self.normalize = normalize

    def __call__(
        self, images: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        device = images.device
        cpu = images.cpu()
        with rng_from(generator), single_thread():
            views = [torch.stack([self.augmentation(img) for img in cpu]) for _ in range(2)]
        return self.normalize(views[0]).to(device), self.normalize(views[1]).to(device)


class TwoViewCollate:
    """``collate_fn`` building SimCLR views in DataLoader workers (parallel CPU augmentation).

    Returns ``((view_a, view_b), labels)``; randomness comes from each worker's torch seed.
    """

    def __init__(self, views: SimCLRViews) -> None:
        self.views = views

    def __call__(
        self, samples: list[tuple[Tensor, Tensor]]
    ) -> tuple[tuple[Tensor, Tensor], Tensor]:
        images = torch.stack([s[0] for s in samples])
        labels = torch.stack([torch.as_tensor(s[1]) for s in samples])
        return self.views(images, None), labels
