"""Embeddings of categorical atom and bond feature columns.

A featurized graph stores each atom (bond) as a row of small integer indices, one column per
categorical feature (for the MolCLR scheme: atom type and chirality; bond type and bond
direction). :class:`FeatureEmbedding` embeds every column with its own ``nn.Embedding`` and sums
them, as in Hu et al. (2020), "Strategies for Pre-training Graph Neural Networks", and MolCLR
(Wang et al., 2022).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class FeatureEmbedding(nn.Module):
    """Sum of one embedding table per categorical feature column.

    Args:
        feature_sizes: Vocabulary size of each column, e.g. ``featurizer.atom_feature_sizes``
            (``(119, 4)`` for the MolCLR scheme). Read them from the featurizer, never hard-code.
        embedding_dim: Width of every embedding table (``1`` gives the scalar bond embeddings of
            MolCLR's GCN, broadcast over channels by the caller).

    Raises:
        ValueError: If ``feature_sizes`` is empty or holds a non-positive size, or
            ``embedding_dim`` is not positive.

    Shapes:
        - input: ``long[N, F]`` with ``F == len(feature_sizes)`` and column ``j`` in
          ``[0, feature_sizes[j])``.
        - output: ``float[N, embedding_dim]``.
    """

    def __init__(self, feature_sizes: Sequence[int], embedding_dim: int) -> None:
        super().__init__()
        sizes = tuple(int(s) for s in feature_sizes)
        if not sizes or any(s <= 0 for s in sizes):
            raise ValueError(
                f"feature_sizes must be a non-empty sequence of positive ints, got {feature_sizes!r}"
            )
        if embedding_dim <= 0:
            raise ValueError(f"embedding_dim must be positive, got {embedding_dim}")
        self.feature_sizes = sizes
        self.embedding_dim = int(embedding_dim)
        self.embeddings = nn.ModuleList(nn.Embedding(s, self.embedding_dim) for s in sizes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform initialisation of every table, as in MolCLR."""
        for emb in self.embeddings:
            nn.init.xavier_uniform_(emb.weight)

    def forward(self, features: Tensor) -> Tensor:
        """Embed and sum the feature columns.

        Args:
            features: ``long[N, F]`` categorical indices (``N`` may be 0).

        Returns:
            ``float[N, embedding_dim]``.

        Raises:
            ValueError: If ``features`` does not have ``F == len(feature_sizes)`` columns.
        """
        if features.numel() == 0:
            features = features.reshape(0, len(self.feature_sizes))
        if features.dim() != 2 or features.size(1) != len(self.feature_sizes):
            raise ValueError(
                f"expected features of shape [N, {len(self.feature_sizes)}] for feature sizes "
                f"{self.feature_sizes}, got {tuple(features.shape)}; check that the featurizer and "
                "the encoder use the same feature scheme"
            )
        out = self.embeddings[0](features[:, 0])
        for j in range(1, len(self.embeddings)):
            out = out + self.embeddings[j](features[:, j])
        return out

    def grouped_sum(self, features: Tensor, index: Tensor, num_groups: int) -> Tensor:
        """Sum of the embeddings of the rows in each group: ``out[g] = sum_{index[r]=g} f(r)``.

        Equal to ``zeros(G, D).index_add_(0, index, self(features))`` but computed as
        ``counts @ tables`` (``counts[g, v]``: rows of group ``g`` with value ``v``), so no
        ``[rows, embedding_dim]`` tensor is built; message passing uses it for the bond term.

        Args:
            features: ``long[R, F]`` categorical indices (``R`` may be 0).
            index: ``long[R]`` group of every row, in ``[0, num_groups)``.
            num_groups: Number of groups ``G``.

        Returns:
            ``float[G, embedding_dim]``.

        Raises:
            ValueError: On CPU, if a feature value lies outside its column's vocabulary (the
                check is skipped on accelerators to avoid a device sync).
        """
        counts = value_counts(features, index, num_groups, self.feature_sizes)
        table = self.table()
        return counts.to(table.dtype) @ table

    def table(self) -> Tensor:
        """All tables stacked: ``float[sum(feature_sizes), embedding_dim]`` (column ``j``'s rows
        after those of columns ``< j``), the right factor of :func:`value_counts`."""
        return torch.cat([emb.weight for emb in self.embeddings])

    def extra_repr(self) -> str:
        return f"feature_sizes={self.feature_sizes}, embedding_dim={self.embedding_dim}"


def value_counts(
    features: Tensor, index: Tensor, num_groups: int, feature_sizes: Sequence[int]
) -> Tensor:
    """How many rows of each group hold each value of each column: ``long[G, sum(sizes)]``.

    ``counts[g, offset_j + v]`` counts the rows ``r`` with ``index[r] == g`` and
    ``features[r, j] == v`` (``offset_j = sum(feature_sizes[:j])``), so that ``counts @
    FeatureEmbedding.table()`` sums the embeddings of every group's rows.

    Args:
        features: ``long[R, F]`` categorical indices (``R`` may be 0).
        index: ``long[R]`` group of every row, in ``[0, num_groups)``.
        num_groups: Number of groups ``G``.
        feature_sizes: Vocabulary size of each of the ``F`` columns.

    Raises:
        ValueError: On CPU, if a feature value lies outside its column's vocabulary (the check
            is skipped on accelerators to avoid a device sync).
    """
    features = features.reshape(-1, len(feature_sizes))
    sizes = torch.tensor(tuple(feature_sizes), device=features.device)
    if features.device.type == "cpu" and features.numel():
        if bool((features < 0).any()) or bool((features >= sizes).any()):
            raise ValueError(
                f"feature values outside the vocabulary sizes {tuple(feature_sizes)}; check "
                "that the featurizer and the encoder use the same feature scheme"
            )
    total = int(sizes.sum())
    key = index.unsqueeze(1) * total + features + (torch.cumsum(sizes, 0) - sizes)
    return torch.bincount(key.flatten(), minlength=num_groups * total).view(num_groups, total)
