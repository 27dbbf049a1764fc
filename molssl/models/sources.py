"""The vocabulary of weights strings, and one declarative entry per other group's checkpoints.

A weights string is ``KIND[:ARG]``; :data:`WEIGHT_KINDS` lists every kind, and help texts and
error messages are generated from it (:func:`weights_grammar`). Three kinds are molssl's own
(``ckpt``: a ``molssl pretrain`` checkpoint; ``molssl``: an encoder released inside the package,
see :mod:`molssl.models.shipped`; ``random``: a fresh encoder); every other kind is a
:class:`ForeignSource` in :data:`FOREIGN_SOURCES`, loaded by the one generic function
:func:`molssl.models.foreign.load_foreign_checkpoint`. Adding a source of this kind (same
featurization, a :data:`~molssl.models.CONVS` layer) is one entry here and a parity test.

This module imports only the standard library, so the command line can build its help texts
without importing torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

KeyRule = tuple[str, str | Callable[[re.Match[str]], str]]


@dataclass(frozen=True)
class ForeignSource:
    """How one group's released encoder weights map onto :class:`~molssl.models.MolEncoder`.

    Attributes:
        name: The weights kind (``"molclr-gcn"``); written ``NAME:PATH``.
        conv: The :data:`~molssl.models.CONVS` layer the weights were trained with.
        marker: A key (after renaming) only this layout has; it tells the sources apart.
        head: Whether the file holds MolCLR's ``feat_lin`` and projection ``out_lin``; without
            them the encoder is built with ``head=False`` (``h`` = the pooled last layer, and
            ``project`` is the identity).
        key_rules: ``(pattern, replacement)`` pairs applied with :func:`re.subn` to every key
            (after ``module.`` prefixes are stripped); the first matching rule renames a key.
        atom_rows: Per atom feature column, the checkpoint rows that give the featurizer's
            indices ``0, 1, ...`` in order (``None``: row ``i`` is index ``i``). A table with
            fewer rows than the featurizer's vocabulary is padded with copies of its row 0
            (e.g. 3 chirality rows for 4 tags: "other" reads as "unspecified"); one with more
            rows than it keeps is refused.
        bond_rows: The same for the bond feature columns of every layer.
        featurizer: The featurizer config the weights expect (``featurizer_from_dict``).
        origin: Where the files come from, for error messages (``"the model.pth released with
            MolCLR"``).
        reference: The paper.
    """

    name: str
    conv: str
    marker: str
    head: bool
    origin: str
    reference: str
    key_rules: tuple[KeyRule, ...] = ()
    atom_rows: tuple[tuple[int, ...] | None, ...] = ()
    bond_rows: tuple[tuple[int, ...] | None, ...] = ()
    featurizer: dict[str, object] = field(default_factory=lambda: {"name": "molclr"})

    def rename(self, key: str) -> str:
        """``key`` after the first matching rule of :attr:`key_rules`."""
        for pattern, replacement in self.key_rules:
            new, count = re.subn(pattern, replacement, key)
            if count:
                return new
        return key


def _rows(*parts: range | int) -> tuple[int, ...]:
    return tuple(i for part in parts for i in (part if isinstance(part, range) else (part,)))


_HU_MOLCLR_KEYS: tuple[KeyRule, ...] = (  # both groups name the embedding tables alike
    (r"^x_embedding(\d+)\.weight$", lambda m: f"atom_encoder.embeddings.{int(m[1]) - 1}.weight"),
    (
        r"^gnns\.(\d+)\.edge_embedding(\d+)\.weight$",
        lambda m: f"gnns.{m[1]}.bond_encoder.embeddings.{int(m[2]) - 1}.weight",
    ),
)


def _molclr_source(conv: str, marker: str) -> ForeignSource:
    """The entry for MolCLR's released ``model.pth`` trained with ``conv``."""
    return ForeignSource(
        name=f"molclr-{conv}",
        conv=conv,
        marker=marker,
        head=True,
        origin=f"the {conv.upper()} model.pth released with MolCLR",
        reference="Wang et al. 2022, Nat. Mach. Intell. (MolCLR)",
        key_rules=_HU_MOLCLR_KEYS,
    )


FOREIGN_SOURCES: dict[str, ForeignSource] = {
    "molclr-gcn": _molclr_source("gcn", marker="gnns.0.weight"),
    "molclr-gin": _molclr_source("gin", marker="gnns.0.mlp.0.weight"),
    "hu2020-gcn": ForeignSource(
        name="hu2020-gcn",
        conv="gcn-norm",
        marker="gnns.0.linear.weight",
        head=False,
        origin="a GCN .pth of snap-stanford/pretrain-gnns (chem/model_architecture/gcn_*.pth)",
        reference="Hu et al. 2020, ICLR (Strategies for Pre-training Graph Neural Networks)",
        key_rules=_HU_MOLCLR_KEYS,
        # Atom rows: elements Z = 1..118, row 118 unused, row 119 the mask token (ours: 118).
        atom_rows=(_rows(range(118), 119), None),
        # Bond rows: 4 types, self-loop 4, mask 5 (the featurizer has no bond mask).
        bond_rows=(_rows(range(5)), None),
    ),
}
"""Other groups' checkpoints by weights kind; see :class:`ForeignSource`."""


@dataclass(frozen=True)
class WeightKind:
    """One kind of weights string ``KIND[:ARG]``.

    Attributes:
        name: The kind.
        arg: Metavariable of its argument (``"PATH"``, ``"CONV"``).
        arg_required: Whether the argument must be given.
        summary: One line for help texts.
    """

    name: str
    arg: str
    arg_required: bool
    summary: str

    def usage(self) -> str:
        """``"ckpt:PATH"``, or ``"random[:CONV]"`` for an optional argument."""
        return f"{self.name}:{self.arg}" if self.arg_required else f"{self.name}[:{self.arg}]"


WEIGHT_KINDS: dict[str, WeightKind] = {
    "ckpt": WeightKind("ckpt", "PATH", True, "a molssl pretraining checkpoint (a bare PATH too)"),
    "molssl": WeightKind(
        "molssl", "NAME", True, "an encoder released with molssl (`molssl models` lists them)"
    ),
    **{
        name: WeightKind(name, "PATH", True, source.origin)
        for name, source in FOREIGN_SOURCES.items()
    },
    "random": WeightKind("random", "CONV", False, "a fresh encoder (random-init is the same)"),
}
"""Every weights kind; :data:`molssl.models.pretrained.LOADERS` has one loader per kind."""

RANDOM_ALIASES = ("random-init",)
"""Other spellings of ``random`` (``random-init`` is the benchmark's name for it)."""


def weights_grammar(separator: str = " | ") -> str:
    """The accepted weights strings, e.g. ``"ckpt:PATH | molclr-gcn:PATH | ... | random[:CONV]"``."""
    return separator.join(kind.usage() for kind in WEIGHT_KINDS.values())


def canonical_weights(spec: str) -> str:
    """``spec`` with an alias of ``random`` spelled ``random``: ``"random-init:gcn"`` ->
    ``"random:gcn"``; every other string comes back stripped and otherwise unchanged."""
    text = spec.strip()
    kind, sep, arg = text.partition(":")
    return f"random{sep}{arg}" if kind in RANDOM_ALIASES else text
