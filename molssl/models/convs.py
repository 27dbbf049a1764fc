"""Message-passing layers of MolCLR with bond features (PyG ``MessagePassing``, ``aggr="add"``).

Both layers add one self-loop per node, labelled with the featurizer's reserved self-loop bond
row (``featurizer.self_loop_bond``, ``(4, 0)`` in the MolCLR scheme), and keep their own bond
embeddings, as in Hu et al. (2020) and MolCLR (Wang et al., 2022). Neither needs torch-scatter or
torch-sparse.

:data:`CONVS` maps a layer name to its class; every class takes
``(hidden_channels, bond_feature_sizes, self_loop_bond)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from molssl.models.embeddings import FeatureEmbedding, append_self_loops


class GINEConv(MessagePassing):
    """GIN layer with additive bond embeddings (MolCLR's ``GINEConv``).

    ``x_i' = MLP(sum_{j in N(i) + i} (x_j + e_ji))`` with ``MLP = Linear(d, 2d), ReLU,
    Linear(2d, d)`` and ``e_ji`` the sum of the per-column bond embeddings (width ``d``). Xu et
    al. (2019), "How Powerful are Graph Neural Networks?"; Hu et al. (2020).

    Args:
        hidden_channels: Node width ``d`` (input and output).
        bond_feature_sizes: Vocabulary size of each bond feature column, including the
            self-loop index (``featurizer.bond_feature_sizes``).
        self_loop_bond: Bond feature row given to the added self-loops.

    Shapes:
        ``x float[N, d]``, ``edge_index long[2, E]``, ``edge_attr long[E, F_bond]`` ->
        ``float[N, d]``.
    """

    def __init__(
        self,
        hidden_channels: int,
        bond_feature_sizes: Sequence[int],
        self_loop_bond: Sequence[int],
    ) -> None:
        super().__init__(aggr="add")
        self.hidden_channels = int(hidden_channels)
        self.self_loop_bond = tuple(int(v) for v in self_loop_bond)
        self.mlp = nn.Sequential(
            nn.Linear(hidden_channels, 2 * hidden_channels),
            nn.ReLU(),
            nn.Linear(2 * hidden_channels, hidden_channels),
        )
        self.bond_encoder = FeatureEmbedding(bond_feature_sizes, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Default ``nn.Linear`` init for the MLP, Xavier-uniform for the bond embeddings."""
        super().reset_parameters()
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        self.bond_encoder.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        edge_index, edge_attr = append_self_loops(
            edge_index, edge_attr, x.size(0), self.self_loop_bond
        )
        edge_emb = self.bond_encoder(edge_attr)
        return self.propagate(edge_index, x=x, edge_attr=edge_emb)

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        return x_j + edge_attr

    def update(self, aggr_out: Tensor) -> Tensor:
        return self.mlp(aggr_out)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.hidden_channels})"


class GCNConv(MessagePassing):
    """The graph convolution of MolCLR's released GCN (not PyG's normalised ``GCNConv``).

    ``x_i' = sum_{j in N(i) + i} (x_j W + e_ji) + b`` where ``e_ji`` is the sum of the SCALAR
    bond embeddings (one ``[size, 1]`` table per bond column), broadcast over the channels. The
    reference code computes a symmetric degree normalisation but never applies it, so none is
    applied here; this is what the released weights were trained with. Kipf & Welling (2017),
    as adapted by Hu et al. (2020) and MolCLR.

    Args:
        hidden_channels: Node width ``d`` (input and output); ``weight`` is ``[d, d]`` and is
            applied as ``x @ weight``.
        bond_feature_sizes: Vocabulary size of each bond feature column, incl. the self-loop.
        self_loop_bond: Bond feature row given to the added self-loops.

    Shapes:
        ``x float[N, d]``, ``edge_index long[2, E]``, ``edge_attr long[E, F_bond]`` ->
        ``float[N, d]``.
    """

    def __init__(
        self,
        hidden_channels: int,
        bond_feature_sizes: Sequence[int],
        self_loop_bond: Sequence[int],
    ) -> None:
        super().__init__(aggr="add")
        self.hidden_channels = int(hidden_channels)
        self.self_loop_bond = tuple(int(v) for v in self_loop_bond)
        self.weight = nn.Parameter(torch.empty(hidden_channels, hidden_channels))
        self.bias = nn.Parameter(torch.empty(hidden_channels))
        self.bond_encoder = FeatureEmbedding(bond_feature_sizes, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weight, zero bias, Xavier-uniform bond embeddings (as MolCLR)."""
        super().reset_parameters()
        nn.init.xavier_uniform_(self.weight)
        nn.init.zeros_(self.bias)
        self.bond_encoder.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        edge_index, edge_attr = append_self_loops(
            edge_index, edge_attr, x.size(0), self.self_loop_bond
        )
        edge_emb = self.bond_encoder(edge_attr)
        out = self.propagate(edge_index, x=x @ self.weight, edge_attr=edge_emb)
        return out + self.bias

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        return x_j + edge_attr

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.hidden_channels})"


CONVS: dict[str, type[MessagePassing]] = {"gin": GINEConv, "gcn": GCNConv}
"""Message-passing layers by name (``MolEncoder(conv=...)``, CLI choices)."""
