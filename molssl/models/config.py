"""Typed configuration of :class:`molssl.models.MolEncoder`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from molssl.contrastive.config import ConfigError
from molssl.contrastive.config import from_dict as config_from_dict
from molssl.contrastive.config import to_dict as config_to_dict
from molssl.featurize.vocab import (
    NUM_ATOM_TYPES,
    NUM_BOND_DIRECTIONS,
    NUM_BOND_TYPES,
    NUM_CHIRALITY_TAGS,
    SELF_LOOP_BOND_INDEX,
)
from molssl.models.convs import CONVS
from molssl.models.pooling import POOLINGS

_INT_FIELDS = ("num_layers", "hidden_channels", "out_channels", "proj_dim")
_SIZE_FIELDS = ("atom_feature_sizes", "bond_feature_sizes", "self_loop_bond")


class FeatureSizes(Protocol):
    """What an encoder needs from a featurizer (``molssl.featurize.MolGraphFeaturizer``)."""

    atom_feature_sizes: tuple[int, ...]
    bond_feature_sizes: tuple[int, ...]
    self_loop_bond: tuple[int, ...]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class EncoderConfig:
    """Constructor arguments of :class:`~molssl.models.MolEncoder`, one field per argument.

    Attributes:
        conv: Message-passing layer, a key of :data:`molssl.models.CONVS` (``"gin"``, ``"gcn"``).
        num_layers: Number of message-passing layers (MolCLR: 5).
        hidden_channels: Node embedding width (MolCLR ``emb_dim``: 300).
        out_channels: Width of the graph embedding ``h`` (MolCLR ``feat_dim``: 512).
        proj_dim: Width of the projection ``z`` (MolCLR: ``feat_dim // 2`` = 256).
        dropout: Dropout probability after every layer (MolCLR pretraining: 0.0).
        pooling: Graph readout: ``"mean"``, ``"sum"``, ``"max"`` or ``"attention"``.
        head: MolCLR's ``feat_lin`` (pooled -> ``h``) and projection head (``h -> z``). ``False``
            (Hu et al.'s encoders, which have neither): ``h`` is the pooled last layer and ``z``
            is ``h`` (:meth:`~molssl.models.MolEncoder.project` is the identity), so
            ``out_channels`` and ``proj_dim`` must equal ``hidden_channels``.
        atom_feature_sizes: Vocabulary size of each atom column (``featurizer.atom_feature_sizes``).
        bond_feature_sizes: Vocabulary size of each bond column incl. the self-loop index.
        self_loop_bond: Bond row of the self-loops the layers add (``featurizer.self_loop_bond``).

    Raises:
        TypeError: If a field has the wrong type.
        ConfigError: (a ``ValueError``) if a value is out of range or names an unknown
            layer/pooling.
    """

    conv: str = "gin"
    num_layers: int = 5
    hidden_channels: int = 300
    out_channels: int = 512
    proj_dim: int = 256
    dropout: float = 0.0
    pooling: str = "mean"
    head: bool = True
    atom_feature_sizes: tuple[int, ...] = field(default=(NUM_ATOM_TYPES, NUM_CHIRALITY_TAGS))
    bond_feature_sizes: tuple[int, ...] = field(default=(NUM_BOND_TYPES, NUM_BOND_DIRECTIONS))
    self_loop_bond: tuple[int, ...] = field(default=(SELF_LOOP_BOND_INDEX, 0))

    def __post_init__(self) -> None:
        for name in ("conv", "pooling"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"EncoderConfig.{name} must be a str, got {getattr(self, name)!r}")
        if self.conv not in CONVS:
            raise ConfigError(f"unknown conv {self.conv!r}; choose one of {sorted(CONVS)}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}; choose one of {sorted(POOLINGS)}")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if not _is_int(value):
                raise TypeError(f"EncoderConfig.{name} must be an int, got {value!r}")
            if value < 1:
                raise ConfigError(f"EncoderConfig.{name} must be >= 1, got {value}")
        if not (_is_int(self.dropout) or isinstance(self.dropout, float)):
            raise TypeError(f"EncoderConfig.dropout must be a float, got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"EncoderConfig.dropout must be in [0, 1), got {self.dropout}")
        object.__setattr__(self, "dropout", float(self.dropout))
        if not isinstance(self.head, bool):
            raise TypeError(f"EncoderConfig.head must be a bool, got {self.head!r}")
        if not self.head and not self.out_channels == self.proj_dim == self.hidden_channels:
            raise ConfigError(
                "an encoder without head (head=False) has h = the pooled node embedding and "
                f"z = h: set out_channels and proj_dim to hidden_channels ({self.hidden_channels})"
                f", got out_channels={self.out_channels}, proj_dim={self.proj_dim}"
            )
        for name in _SIZE_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, tuple | list) or not all(_is_int(v) for v in value):
                raise TypeError(f"EncoderConfig.{name} must be a tuple of ints, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not self.atom_feature_sizes or min(self.atom_feature_sizes) < 1:
            raise ConfigError(f"atom_feature_sizes must be positive, got {self.atom_feature_sizes}")
        if not self.bond_feature_sizes or min(self.bond_feature_sizes) < 1:
            raise ConfigError(f"bond_feature_sizes must be positive, got {self.bond_feature_sizes}")
        if len(self.self_loop_bond) != len(self.bond_feature_sizes) or not all(
            0 <= v < s for v, s in zip(self.self_loop_bond, self.bond_feature_sizes, strict=True)
        ):
            raise ConfigError(
                f"self_loop_bond {self.self_loop_bond} must be one valid bond row for "
                f"bond_feature_sizes {self.bond_feature_sizes}"
            )

    @classmethod
    def from_featurizer(cls, featurizer: FeatureSizes, **overrides: Any) -> EncoderConfig:
        """Config whose vocabulary sizes are read from ``featurizer``.

        Args:
            featurizer: Any object with ``atom_feature_sizes``, ``bond_feature_sizes`` and
                ``self_loop_bond`` (e.g. ``MolGraphFeaturizer()``).
            **overrides: Other fields (``conv``, ``num_layers``, ...).
        """
        return cls(
            atom_feature_sizes=tuple(featurizer.atom_feature_sizes),
            bond_feature_sizes=tuple(featurizer.bond_feature_sizes),
            self_loop_bond=tuple(featurizer.self_loop_bond),
            **overrides,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` (tuples become lists) for YAML/JSON and checkpoints."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderConfig:
        """Strict inverse of :meth:`to_dict` (``molssl.contrastive.config.from_dict``); missing keys default.

        Raises:
            ConfigError: If ``data`` has unknown keys, a value of the wrong type or out of range.
        """
        return config_from_dict(cls, data)
