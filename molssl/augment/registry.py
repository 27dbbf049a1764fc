"""Registry of augmentations so configs can name them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from molssl.augment.base import DEFAULT_MASK_ATOM, AtomMask, Augmentation, BondDeletion
from molssl.augment.compose import Compose, Identity, RandomChoice
from molssl.augment.subgraph import Mix, SubgraphRemoval


def molclr(rate: float = 0.25, mask_atom: tuple[int, ...] = DEFAULT_MASK_ATOM) -> Augmentation:
    """MolCLR's default view (``dataset/dataset.py``): atom masking then bond deletion at ``rate``."""
    return Compose([AtomMask(rate, mask_atom), BondDeletion(rate)])


def _compose(augmentations: list[Any], **defaults: Any) -> Augmentation:
    return Compose([build_augmentation(spec, **defaults) for spec in augmentations])


def _random_choice(
    augmentations: list[Any], p: list[float] | None = None, per_graph: bool = True, **defaults: Any
) -> Augmentation:
    options = [build_augmentation(spec, **defaults) for spec in augmentations]
    return RandomChoice(options, p=p, per_graph=per_graph)


AUGMENTATIONS: dict[str, Callable[..., Augmentation]] = {
    "none": Identity,
    "atom_mask": AtomMask,
    "bond_deletion": BondDeletion,
    "subgraph": SubgraphRemoval,
    "mix": Mix,
    "molclr": molclr,
    "compose": _compose,
    "random_choice": _random_choice,
}
"""Name -> factory. ``compose`` and ``random_choice`` take nested specs in ``augmentations``."""

_NESTING = {"compose", "random_choice"}


def build_augmentation(
    spec: str | Mapping[str, Any] | Augmentation, **defaults: Any
) -> Augmentation:
    """Build an augmentation from a registry name or a config mapping.

    Examples: ``"mix"``, ``{"name": "atom_mask", "rate": 0.3}``,
    ``{"name": "random_choice", "augmentations": ["subgraph", "molclr"], "p": [0.5, 0.5]}``.

    Args:
        spec: A name in :data:`AUGMENTATIONS`, a mapping with ``name`` plus constructor
            arguments, or an already built augmentation (returned as is).
        **defaults: Arguments given to every factory that accepts them and the spec does not set,
            typically ``mask_atom=featurizer.mask_atom``.

    Returns:
        The augmentation.

    Raises:
        ValueError: Unknown name, or a mapping without ``name``.
        TypeError: ``spec`` of another type, or arguments the augmentation does not take.
    """
    if isinstance(spec, Augmentation):
        return spec
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, Mapping):
        if "name" not in spec:
            raise ValueError(f"augmentation config {dict(spec)!r} needs a 'name' key.")
        name, kwargs = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    else:
        raise TypeError(
            f"augmentation spec must be a name or a mapping, got {type(spec).__name__}."
        )
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose from {sorted(AUGMENTATIONS)}.")
    factory = AUGMENTATIONS[name]
    if name in _NESTING:
        return factory(**kwargs, **defaults)
    params = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise TypeError(
            f"augmentation {name!r} got unknown arguments {unknown}; it takes {sorted(params)}."
        )
    extra = {k: v for k, v in defaults.items() if k in params and k not in kwargs}
    return factory(**kwargs, **extra)
