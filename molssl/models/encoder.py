"""The one molecular graph encoder used for pretraining, fine-tuning and embedding.

MolCLR architecture (Wang et al., 2022, "Molecular contrastive learning of representations via
graph neural networks", Nat. Mach. Intell.): atom embedding, ``num_layers`` x (conv ->
BatchNorm -> ReLU (not on the last layer) -> dropout), graph pooling, ``feat_lin`` giving the
graph embedding ``h`` and the projection head ``out_lin`` giving ``z``. Encoders without that
head (``head=False``: Hu et al. 2020's released GCNs) take the pooled last layer as ``h`` and
``h`` as ``z``.

Callers use :meth:`MolEncoder.encode` (``h``, optionally with the node embeddings),
:meth:`MolEncoder.embed_pooled` (pooled node embeddings -> ``h``) and :meth:`MolEncoder.project`
(``h -> z``), never the layers behind them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, overload

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from molssl.models.config import EncoderConfig
from molssl.models.convs import CONVS
from molssl.models.embeddings import FeatureEmbedding
from molssl.models.pooling import POOLINGS

logger = logging.getLogger(__name__)

_DEFAULTS = EncoderConfig()


class EncoderOutput(NamedTuple):
    """What :class:`MolEncoder` returns.

    Attributes:
        h: ``float[B, out_channels]`` graph embeddings (the representation used downstream).
        z: ``float[B, proj_dim]`` projections (the input of the contrastive loss).
        node: ``float[N, hidden_channels]`` node embeddings after the last layer.
    """

    h: Tensor
    z: Tensor
    node: Tensor


class MolEncoder(nn.Module):
    """GIN/GCN molecular graph encoder with projection head (MolCLR).

    Args:
        conv: Layer name in :data:`~molssl.models.CONVS`; default ``"gin"``.
        num_layers: Number of layers; default 5.
        hidden_channels: Node width; default 300.
        out_channels: Width of ``h`` (MolCLR ``feat_dim``); default 512.
        proj_dim: Width of ``z``; default 256.
        dropout: Dropout after every layer; default 0.0.
        pooling: ``"mean"`` (default), ``"sum"``, ``"max"`` or ``"attention"``.
        head: MolCLR's ``feat_lin`` + projection head (default ``True``); ``False``: ``h`` is
            the pooled last layer and :meth:`project` the identity (``out_channels`` and
            ``proj_dim`` must equal ``hidden_channels``).
        atom_feature_sizes: Atom column vocabulary sizes; default from ``molssl.featurize.vocab``
            (``(119, 4)``). Pass ``featurizer.atom_feature_sizes``.
        bond_feature_sizes: Bond column sizes incl. self-loop index; default ``(5, 3)``.
        self_loop_bond: Bond row of the added self-loops; default ``(4, 0)``.

    Raises:
        TypeError, ValueError: As :class:`~molssl.models.EncoderConfig` for invalid arguments.

    Note:
        BatchNorm needs more than one node per forward pass in training mode.

    Parameter names follow MolCLR (``gnns.{i}``, ``batch_norms.{i}``, ``feat_lin``,
    ``out_lin.{0,2}``); embeddings live in ``atom_encoder.embeddings.{j}`` and
    ``gnns.{i}.bond_encoder.embeddings.{j}`` (see :mod:`molssl.models.molclr` for the mapping).
    """

    def __init__(
        self,
        conv: str = _DEFAULTS.conv,
        num_layers: int = _DEFAULTS.num_layers,
        hidden_channels: int = _DEFAULTS.hidden_channels,
        out_channels: int = _DEFAULTS.out_channels,
        proj_dim: int = _DEFAULTS.proj_dim,
        dropout: float = _DEFAULTS.dropout,
        pooling: str = _DEFAULTS.pooling,
        head: bool = _DEFAULTS.head,
        atom_feature_sizes: Sequence[int] = _DEFAULTS.atom_feature_sizes,
        bond_feature_sizes: Sequence[int] = _DEFAULTS.bond_feature_sizes,
        self_loop_bond: Sequence[int] = _DEFAULTS.self_loop_bond,
    ) -> None:
        super().__init__()
        cfg = EncoderConfig(
            conv=conv,
            num_layers=num_layers,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            proj_dim=proj_dim,
            dropout=dropout,
            pooling=pooling,
            head=head,
            atom_feature_sizes=tuple(atom_feature_sizes),
            bond_feature_sizes=tuple(bond_feature_sizes),
            self_loop_bond=tuple(self_loop_bond),
        )
        self.config = cfg
        self.num_layers = cfg.num_layers
        self.dropout = cfg.dropout
        d = cfg.hidden_channels
        conv_cls = CONVS[cfg.conv]
        self.atom_encoder = FeatureEmbedding(cfg.atom_feature_sizes, d)
        self.gnns = nn.ModuleList(
            conv_cls(d, cfg.bond_feature_sizes, cfg.self_loop_bond) for _ in range(cfg.num_layers)
        )
        self.batch_norms = nn.ModuleList(nn.BatchNorm1d(d) for _ in range(cfg.num_layers))
        self.pool = POOLINGS[cfg.pooling](d)
        self.feat_lin: nn.Module = nn.Linear(d, cfg.out_channels) if cfg.head else nn.Identity()
        self.out_lin: nn.Module = (
            nn.Sequential(
                nn.Linear(cfg.out_channels, cfg.out_channels),
                nn.ReLU(),
                nn.Linear(cfg.out_channels, cfg.proj_dim),
            )
            if cfg.head
            else nn.Identity()
        )

    @classmethod
    def from_config(cls, config: EncoderConfig) -> MolEncoder:
        """Build an encoder from its config."""
        return cls(**{k: getattr(config, k) for k in config.__dataclass_fields__})

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # noqa: ANN001, ANN201
        """``nn.Module.load_state_dict`` that refuses weights of other shapes in one line.

        Raises:
            molssl.contrastive.io.checkpoint.CheckpointError: A tensor's shape differs from this
                encoder's, e.g. weights trained with another featurizer or architecture.
        """
        from molssl.contrastive.io.checkpoint import check_weight_shapes

        check_weight_shapes(
            self,
            state_dict,
            "the given state_dict",
            hint=f"; this encoder was built for atom feature sizes {list(self.config.atom_feature_sizes)} "
            f"and bond feature sizes {list(self.config.bond_feature_sizes)}: load the weights with the "
            "featurizer and encoder config their checkpoint records",
        )
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def reset_parameters(self) -> None:
        """Re-initialise every parameter and BatchNorm statistic."""
        self.atom_encoder.reset_parameters()
        for conv, bn in zip(self.gnns, self.batch_norms, strict=True):
            conv.reset_parameters()
            bn.reset_parameters()
        self.pool.reset_parameters()
        for layer in (self.feat_lin, *self.out_lin.children()):
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor,
        batch: Tensor | None = None,
        num_graphs: int | None = None,
    ) -> EncoderOutput:
        """Encode a batch of graphs.

        Args:
            x: ``long[N, F_atom]`` atom features.
            edge_index: ``long[2, E]`` directed edges (``E`` may be 0).
            edge_attr: ``long[E, F_bond]`` bond features.
            batch: ``long[N]`` graph index of every node; ``None`` means one graph.
            num_graphs: Number of graphs ``B``; inferred from ``batch`` when ``None``.

        Returns:
            :class:`EncoderOutput` ``(h [B, out_channels], z [B, proj_dim], node [N, hidden])``.
        """
        node = self.encode_nodes(x, edge_index, edge_attr)
        h, z = self.readout(node, batch, num_graphs)
        return EncoderOutput(h=h, z=z, node=node)

    def encode_nodes(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        """Node embeddings ``float[N, hidden_channels]`` after the last layer."""
        h = self.atom_encoder(x)
        plan = self.gnns[0].plan(edge_index, edge_attr, h.size(0))  # the same for every layer
        last = self.num_layers - 1
        for i, (conv, bn) in enumerate(zip(self.gnns, self.batch_norms, strict=True)):
            h = bn(conv(h, edge_index, edge_attr, plan))
            if i < last:
                h = F.relu(h, inplace=True)  # BatchNorm's backward needs its input, not output
            if self.dropout > 0.0:
                h = F.dropout(h, self.dropout, training=self.training)
        return h

    def readout(
        self, node: Tensor, index: Tensor | None = None, size: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """Pool node embeddings into groups, then apply ``feat_lin`` and ``out_lin``.

        Used for graphs (``index = batch``) and, e.g., for iMolCLR fragments (``index`` = global
        fragment id of every node).

        Args:
            node: ``float[N, hidden_channels]``.
            index: ``long[N]`` group of every node; ``None`` pools all nodes into one group.
            size: Number of groups ``G``; inferred from ``index`` when ``None``.

        Returns:
            ``(h float[G, out_channels], z float[G, proj_dim])``.
        """
        h = self.embed_pooled(self.pool(node, index, dim_size=size))
        return h, self.project(h)

    def embed_pooled(self, pooled: Tensor) -> Tensor:
        """Graph (or fragment) embeddings ``h`` ``float[G, out_channels]`` from pooled node
        embeddings ``float[G, hidden_channels]``: ``feat_lin``, or the identity without head."""
        return self.feat_lin(pooled)

    def project(self, h: Tensor) -> Tensor:
        """Projections ``z`` ``float[G, proj_dim]`` of embeddings ``h`` (the contrastive losses'
        input): MolCLR's projection head, or the identity for an encoder without head
        (``config.head=False``), so that ``z`` is ``h``."""
        return self.out_lin(h)

    def forward_batch(self, batch: Batch | Data) -> EncoderOutput:
        """:meth:`forward` on a PyG ``Batch`` (or a single ``Data``)."""
        num_graphs = batch.num_graphs if isinstance(batch, Batch) else 1
        return self(
            batch.x, batch.edge_index, batch.edge_attr, getattr(batch, "batch", None), num_graphs
        )

    @overload
    def encode(self, batch: Batch | Data, *, return_nodes: Literal[False] = False) -> Tensor: ...

    @overload
    def encode(
        self, batch: Batch | Data, *, return_nodes: Literal[True]
    ) -> tuple[Tensor, Tensor]: ...

    def encode(
        self, batch: Batch | Data, *, return_nodes: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Graph embeddings ``h`` ``float[B, out_channels]`` of a ``Batch`` (no grad handling).

        The same ``h`` as :meth:`forward_batch`, without computing the projection ``z``.

        Args:
            batch: A PyG ``Batch`` (or one ``Data``).
            return_nodes: Also return the node embeddings ``float[N, hidden_channels]``.

        Returns:
            ``h``, or ``(h, node)`` with ``return_nodes=True``.
        """
        num_graphs = batch.num_graphs if isinstance(batch, Batch) else 1
        node = self.encode_nodes(batch.x, batch.edge_index, batch.edge_attr)
        h = self.embed_pooled(self.pool(node, getattr(batch, "batch", None), dim_size=num_graphs))
        return (h, node) if return_nodes else h


ENCODERS: dict[str, Callable[..., MolEncoder]] = {
    name: functools.partial(MolEncoder, conv=name) for name in CONVS
}
"""Encoder factories by conv name (``ENCODERS["gcn"](num_layers=3)``)."""
