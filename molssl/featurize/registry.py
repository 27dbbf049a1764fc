"""Featurizers by name: the registry behind configs, the CLI and checkpoint loading."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from molssl.featurize.base import SCHEME_VERSION, GraphFeaturizer
from molssl.featurize.molclr import MolGraphFeaturizer
from molssl.featurize.rich import RichGraphFeaturizer


class UnknownFeaturizerError(KeyError):
    """A featurizer name that is not registered; the message lists the registered names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class FeaturizerRegistry(Mapping[str, type[GraphFeaturizer]]):
    """Read-only mapping ``name -> featurizer class``; add entries with :meth:`register`."""

    def __init__(self) -> None:
        self._classes: dict[str, type[GraphFeaturizer]] = {}

    def register(self, cls: type[GraphFeaturizer]) -> type[GraphFeaturizer]:
        """Register ``cls`` under ``cls.name`` (usable as a class decorator).

        Raises:
            ValueError: the name is empty or already taken by another class.
        """
        if not cls.name:
            raise ValueError(f"{cls.__name__} has no `name`; set the class attribute `name`")
        if self._classes.get(cls.name, cls) is not cls:
            raise ValueError(f"featurizer name {cls.name!r} is already registered")
        self._classes[cls.name] = cls
        return cls

    def __getitem__(self, name: str) -> type[GraphFeaturizer]:
        try:
            return self._classes[name]
        except KeyError:
            from molssl.contrastive.config import did_you_mean

            raise UnknownFeaturizerError(
                f"unknown featurizer {name!r}{did_you_mean(name, self)}; registered "
                f"featurizers: {', '.join(self)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)


FEATURIZERS = FeaturizerRegistry()
FEATURIZERS.register(MolGraphFeaturizer)
FEATURIZERS.register(RichGraphFeaturizer)


def get_featurizer(name: str, **kwargs: Any) -> GraphFeaturizer:
    """Build the featurizer registered as ``name`` (``"molclr"``, ``"rich"``).

    Args:
        name: registered scheme name.
        **kwargs: constructor arguments (``hydrogens``, ``fingerprint``, ``fragments``, ...).

    Raises:
        UnknownFeaturizerError: (a ``KeyError``) ``name`` is not registered; lists valid names.
        ValueError: ``hydrogens`` names no policy.
    """
    return FEATURIZERS[name](**kwargs)


def featurizer_from_dict(config: Mapping[str, Any]) -> GraphFeaturizer:
    """Rebuild a featurizer from its :meth:`~GraphFeaturizer.to_dict` (e.g. from a checkpoint).

    Raises:
        UnknownFeaturizerError: the config names no registered scheme.
        ValueError: the config has no ``name``, was written by another scheme version, or has
            options the scheme does not take.
    """
    options = dict(config)
    if "name" not in options:
        raise ValueError(f"featurizer config {config!r} has no 'name'")
    name = options.pop("name")
    version = options.pop("scheme_version", SCHEME_VERSION)
    if version != SCHEME_VERSION:
        raise ValueError(
            f"featurizer config {config!r} was written by scheme version {version}, this molssl "
            f"has version {SCHEME_VERSION}; re-featurize the data (rebuild the graph store)"
        )
    cls = FEATURIZERS[name]
    try:
        return cls(**options)
    except TypeError as err:
        raise ValueError(
            f"featurizer config {config!r} does not fit {cls.__name__}: {err}"
        ) from err
