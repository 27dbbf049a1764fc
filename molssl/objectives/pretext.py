"""Pretext objectives: attribute masking and descriptor regression.

- ``attrmask`` (Hu et al., "Strategies for Pre-training Graph Neural Networks", ICLR 2020):
  predict the atom type of masked atoms from their node embeddings and the bond type of the
  bonds touching them from ``node[u] + node[v]`` (two linear heads, summed cross-entropies).
- ``descriptors`` (the pretraining task of chemprop's CheMeleon, Burns et al. 2025): regress
  the RDKit 2D descriptors of :mod:`molssl.featurize.descriptors`, computed once per molecule
  when the store is built (``data.desc``), from the graph embedding ``h``. Targets are robustly
  standardised, ``(d - median) / IQR`` with the training molecules' statistics (stored as
  buffers of the head, so checkpoints carry the scaler); NaN targets are left out of the
  mean squared error.

Composed with a two-view objective (``imolclr+attrmask+descriptors``, see
:mod:`molssl.objectives.compose`), both terms reuse that objective's forward of the two
augmented views and add no encoder pass:

- ``attrmask`` takes the atoms the augmentation masked (those whose atom-type column differs
  from the batch's: MolCLR's atom masking and subgraph removal write the mask token) in both
  views, and predicts their original atom types from the views' node embeddings and the bond
  types of the bonds at masked atoms that survived bond deletion; the cross-entropies are means
  over the masked atoms (and those bonds) of both views together. The views keep those bonds'
  attributes (MolCLR masks atoms only), unlike Hu et al., who also mask them. When neither view
  masks an atom (``augmentation=bond_deletion``, ``none``), or a view changes the atom set,
  the term falls back to its own masking and its own forward of the batch, as alone.
- ``descriptors`` regresses the original molecule's descriptors from the graph embedding of
  each view (augmentation leaves the targets unchanged) and averages the two views' losses.

Alone (``objective.name=attrmask``), or next to a two-view objective that does not expose its
forward, each term masks (``attrmask``: ``mask_rate`` of each molecule's atoms, at least one,
get the featurizer's mask row and the bonds touching them the self-loop row, as Hu et al.) and
encodes the un-augmented batch itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.augment import TwoViewTransform
from molssl.objectives.base import (
    AttrMaskConfig,
    Builder,
    DescriptorsConfig,
    ObjectiveConfig,
    TwoViewForward,
    register_objective,
)

__all__ = [
    "AttrMaskHead",
    "AttrMaskObjective",
    "DescriptorHead",
    "DescriptorObjective",
    "attrmask_selection",
    "masked_mse",
    "robust_scaler",
    "view_masked_atoms",
]


def attrmask_selection(
    batch: Tensor, num_graphs: int, rate: float, generator: torch.Generator
) -> Tensor:
    """Which atoms to mask: ``round(rate * n_atoms)`` (at least one) per molecule, at random.

    Args:
        batch: ``long[N]`` graph of every atom.
        num_graphs: Number of molecules ``B``.
        rate: Fraction masked, in ``(0, 1]``.
        generator: Source of randomness (on the batch's device).

    Returns:
        ``bool[N]``, True for masked atoms.
    """
    counts = torch.bincount(batch, minlength=num_graphs)
    k = torch.clamp(torch.round(counts.double() * rate).long(), min=1)
    score = torch.rand(batch.numel(), generator=generator, device=generator.device)
    order = torch.argsort(batch.to(score.dtype) * 2.0 + score.to(batch.device))
    start = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(batch)
    rank[order] = torch.arange(batch.numel(), device=batch.device) - start[batch[order]]
    return rank < k[batch]


class AttrMaskHead(nn.Module):
    """Atom-type and bond-type classifiers on node embeddings (Hu et al. 2020).

    Args:
        hidden: Node embedding width.
        num_atom_types: Classes of the atom-type column.
        num_bond_types: Classes of the bond-type column.
    """

    def __init__(self, hidden: int, num_atom_types: int, num_bond_types: int) -> None:
        super().__init__()
        self.atom = nn.Linear(hidden, num_atom_types)
        self.bond = nn.Linear(hidden, num_bond_types)

    def forward(
        self, node: Tensor, edge_index: Tensor, atoms: Tensor, bonds: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``(atom logits [M, A], bond logits [K, C])`` of the atoms ``atoms`` and the edges
        ``bonds`` (``long`` indices into ``node [N, hidden]`` and the edge list)."""
        pair = node[edge_index[0, bonds]] + node[edge_index[1, bonds]]
        return self.atom(node[atoms]), self.bond(pair)


def _attrmask_loss(
    atom_logits: Tensor, bond_logits: Tensor, atom_target: Tensor, bond_target: Tensor
) -> tuple[Tensor, dict[str, float]]:
    atom_loss = F.cross_entropy(atom_logits.float(), atom_target)
    bond_loss = (
        F.cross_entropy(bond_logits.float(), bond_target)
        if bond_target.numel()
        else bond_logits.sum() * 0.0
    )
    metrics = {
        "attrmask_atom_loss": float(atom_loss.detach()),
        "attrmask_bond_loss": float(bond_loss.detach()),
        "attrmask_atom_acc": float((atom_logits.argmax(-1) == atom_target).float().mean()),
    }
    return atom_loss + bond_loss, metrics


def view_masked_atoms(batch: Batch, view: Batch) -> Tensor | None:
    """``bool[N]``: the atoms of ``batch`` whose atom type ``view`` hides (its atom-type column
    differs), or None when ``view`` does not keep ``batch``'s atoms (it removed some)."""
    if view.x.shape != batch.x.shape:
        return None
    return view.x[:, 0] != batch.x[:, 0]


class AttrMaskObjective:
    """Hu et al.'s attribute masking as a pretext term.

    Args:
        mask_rate: Fraction of atoms masked per molecule (at least one) when the term masks
            itself (alone, or when the composed views mask no atom).
    """

    encoder_prefix = ""
    name = "attrmask"

    def __init__(self, mask_rate: float = 0.15) -> None:
        self.mask_rate = float(mask_rate)
        self.mask_atom: Tensor | None = None
        self.mask_bond: Tensor | None = None

    def set_vocabulary(
        self, *, mask_atom: Sequence[int] | None, mask_bond: Sequence[int] | None
    ) -> None:
        """The featurizer's atom mask row and the bond row written on masked atoms' bonds."""
        self.mask_atom = None if mask_atom is None else torch.tensor(list(mask_atom))
        self.mask_bond = None if mask_bond is None else torch.tensor(list(mask_bond))

    def build_head(self, encoder: nn.Module) -> nn.Module:
        """Heads sized from the encoder's config (node width, atom and bond vocabularies)."""
        cfg = encoder.config
        return AttrMaskHead(
            cfg.hidden_channels, cfg.atom_feature_sizes[0], cfg.bond_feature_sizes[0]
        )

    def __call__(
        self,
        model: nn.Module,
        batch: Batch,
        generator: torch.Generator,
        *,
        views: TwoViewForward | None = None,
    ) -> tuple[Tensor, Mapping[str, float]]:
        """The loss on ``views`` (the composed two-view term's forward) when they mask atoms,
        else on the term's own masking and forward of ``batch``."""
        if views is not None:
            masked = [view_masked_atoms(batch, v) for v in (views.view_a, views.view_b)]
            if all(m is not None for m in masked) and any(bool(m.any()) for m in masked):
                return self._on_views(model, batch, views, torch.cat(masked))
        return self._own_forward(model, batch, generator)

    def _on_views(
        self, model: nn.Module, batch: Batch, views: TwoViewForward, masked: Tensor
    ) -> tuple[Tensor, dict[str, float]]:
        num_nodes = batch.num_nodes
        edge_index = torch.cat(
            [views.view_a.edge_index, views.view_b.edge_index + num_nodes], dim=1
        )
        edge_attr = torch.cat([views.view_a.edge_attr, views.view_b.edge_attr])
        src, dst = edge_index
        bonds = torch.nonzero((masked[src] | masked[dst]) & (src < dst)).flatten()
        atoms = torch.nonzero(masked).flatten()
        atom_logits, bond_logits = model(
            views.encoded.node, edge_index, atoms, bonds, head=self.name
        )
        atom_target = batch.x[:, 0].repeat(2)[atoms]
        return _attrmask_loss(atom_logits, bond_logits, atom_target, edge_attr[bonds, 0])

    def _own_forward(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        if self.mask_atom is None or self.mask_bond is None:
            raise ValueError(
                "attrmask needs the featurizer's mask rows; build it with "
                "build_objective(config, mask_atom=featurizer.mask_atom, "
                "mask_bond=featurizer.self_loop_bond)"
            )
        masked = attrmask_selection(batch.batch, batch.num_graphs, self.mask_rate, generator)
        src, dst = batch.edge_index
        touching = masked[src] | masked[dst]
        bonds = torch.nonzero(touching & (src < dst)).flatten()  # each bond once
        x = batch.x.clone()
        x[masked] = self.mask_atom.to(x)
        edge_attr = batch.edge_attr.clone()
        edge_attr[touching] = self.mask_bond.to(edge_attr)
        atoms = torch.nonzero(masked).flatten()
        node = model(x, batch.edge_index, edge_attr, encode="encode_nodes")
        atom_logits, bond_logits = model(node, batch.edge_index, atoms, bonds, head=self.name)
        return _attrmask_loss(
            atom_logits, bond_logits, batch.x[atoms, 0], batch.edge_attr[bonds, 0]
        )


def robust_scaler(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column ``(median, IQR)`` of ``values`` ``[n, D]``, ignoring non-finite entries.

    A column with IQR 0 is scaled by its standard deviation instead, and by 1 when that is 0 or
    the column has no finite value (its median is then 0).
    """
    values = np.where(np.isfinite(values), values, np.nan).astype(np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        center = np.nanmedian(values, axis=0)
        q75, q25 = np.nanpercentile(values, [75, 25], axis=0)
        scale = q75 - q25
        std = np.nanstd(values, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, std)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    center = np.where(np.isfinite(center), center, 0.0)
    return center.astype(np.float32), scale.astype(np.float32)


def masked_mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over the finite entries of ``target`` (0 when there are none)."""
    finite = torch.isfinite(target)
    diff = torch.where(finite, prediction - torch.nan_to_num(target), 0.0)
    return diff.pow(2).sum() / finite.sum().clamp(min=1)


class DescriptorHead(nn.Module):
    """MLP from the graph embedding ``h`` to standardised descriptors, with the scaler.

    Args:
        in_channels: Width of ``h``.
        num_outputs: Number of descriptors ``D``.
        hidden: Hidden width (0: linear).
        center: ``float[D]`` medians of the training targets.
        scale: ``float[D]`` IQRs of the training targets.
    """

    def __init__(
        self, in_channels: int, num_outputs: int, hidden: int, center: Tensor, scale: Tensor
    ) -> None:
        super().__init__()
        if hidden:
            self.mlp = nn.Sequential(
                nn.Linear(in_channels, hidden), nn.ReLU(), nn.Linear(hidden, num_outputs)
            )
        else:
            self.mlp = nn.Sequential(nn.Linear(in_channels, num_outputs))
        self.register_buffer("center", center.float().clone())
        self.register_buffer("scale", scale.float().clone())

    def standardize(self, desc: Tensor) -> Tensor:
        """``(desc - center) / scale``, non-finite values kept non-finite."""
        return (desc - self.center) / self.scale

    def forward(self, h: Tensor, desc: Tensor) -> tuple[Tensor, Tensor]:
        """``(predictions [G, D], targets [B, D])``, both standardised: the MLP of the graph
        embeddings ``h`` and :meth:`standardize` of the raw descriptors ``desc`` (non-finite
        where a descriptor is missing)."""
        return self.mlp(h), self.standardize(desc.float())


class DescriptorObjective:
    """Robustly standardised RDKit descriptor regression as a pretext term.

    Args:
        hidden: Hidden width of the head's MLP (0: linear).
    """

    encoder_prefix = ""
    name = "descriptors"

    def __init__(self, hidden: int = 512) -> None:
        from molssl.featurize.descriptors import NUM_DESCRIPTORS

        self.hidden = int(hidden)
        self.center = torch.zeros(NUM_DESCRIPTORS)
        self.scale = torch.ones(NUM_DESCRIPTORS)

    def prepare(self, data: Any, indices: Any) -> None:
        """Fit the robust scaler on the training molecules' descriptors.

        Args:
            data: A :class:`~molssl.store.GraphStore` built with ``descriptors=True``.
            indices: The training molecules' indices into it.
        """
        values = np.asarray(data.per_molecule("desc"))[np.asarray(indices)]
        center, scale = robust_scaler(values)
        self.center, self.scale = torch.from_numpy(center), torch.from_numpy(scale)

    def checkpoint_metadata(self) -> dict[str, Any]:
        """The descriptor names and the scaler, readable without building the model."""
        from molssl.featurize.descriptors import DESCRIPTOR_NAMES

        return {
            "descriptors": {
                "names": list(DESCRIPTOR_NAMES),
                "center": self.center.tolist(),
                "scale": self.scale.tolist(),
            }
        }

    def build_head(self, encoder: nn.Module) -> nn.Module:
        """The regression head (with the fitted scaler) on ``h``."""
        return DescriptorHead(
            encoder.config.out_channels, self.center.numel(), self.hidden, self.center, self.scale
        )

    def __call__(
        self,
        model: nn.Module,
        batch: Batch,
        generator: torch.Generator,
        *,
        views: TwoViewForward | None = None,
    ) -> tuple[Tensor, Mapping[str, float]]:
        """The loss on both views' graph embeddings (mean of the two views' losses; the
        targets are the original molecule's descriptors) when ``views`` is given, else on the
        term's own forward of ``batch``."""
        del generator
        if "desc" not in batch:
            raise ValueError(
                "the descriptors objective needs RDKit descriptors on every graph (batch.desc); "
                "build the store with MolGraphFeaturizer(descriptors=True)"
            )
        if views is not None:
            n = views.num_graphs
            prediction, target = model(views.encoded.h, batch.desc, head=self.name)
            prediction = prediction.float()
            loss = 0.5 * (masked_mse(prediction[:n], target) + masked_mse(prediction[n:], target))
        else:
            h = model(batch, encode="encode")
            prediction, target = model(h, batch.desc, head=self.name)
            loss = masked_mse(prediction.float(), target)
        return loss, {"descriptors_finite": float(torch.isfinite(target).float().mean())}


def _register_pretext(name: str, description: str, config: type) -> Callable[[Builder], Builder]:
    """:func:`register_objective` for a pretext term; alone it has no faulty-negative or
    fragment loss, so ``lambda_1`` and ``lambda_2`` default to 0."""
    return register_objective(
        name,
        preset={"lambda_1": 0.0, "lambda_2": 0.0},
        description=description,
        pretext=True,
        config=config,
    )


@_register_pretext(
    "attrmask",
    "Hu et al.'s attribute masking: predict masked atom and bond types",
    AttrMaskConfig,
)
def _build_attrmask(config: ObjectiveConfig, augment: TwoViewTransform) -> AttrMaskObjective:
    del augment
    return AttrMaskObjective(config.attrmask.mask_rate)


@_register_pretext(
    "descriptors",
    "regress robustly standardised RDKit 2D descriptors (CheMeleon)",
    DescriptorsConfig,
)
def _build_descriptors(config: ObjectiveConfig, augment: TwoViewTransform) -> DescriptorObjective:
    del augment
    return DescriptorObjective(config.descriptors.hidden)
