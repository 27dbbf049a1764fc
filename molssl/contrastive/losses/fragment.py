"""iMolCLR decomposed fragment contrast: mean-pooled fragment embeddings and their NT-Xent.

Wang et al. 2022, "Improving Molecular Contrastive Learning via Faulty Negative Mitigation and
Decomposed Fragment Contrast" (iMolCLR). Both augmented views of a batch keep every atom (atom
masking and bond deletion change features and edges, never the atom set), so each BRICS fragment
exists in both views. Node embeddings of each view are mean-pooled per fragment, passed through
the same head as the graph embeddings (the encoder's ``feat_lin`` and projection), and the
fragments are contrasted with NT-Xent: a fragment's positive is the same fragment in the other
view, and every other fragment of the batch (both views) is a negative.

iMolCLR's total pretraining loss (``imolclr.py``, ``config.yaml``) is::

    loss = weighted_ntxent(z_a, z_b; 1 - lambda_1 * tanimoto) + lambda_2 * fragment_ntxent

with ``lambda_1 = 0.5``, ``lambda_2 = 0.5`` and temperature 0.1 for both terms.

Fragment ids come per molecule (``frag`` long[N], ``-1`` outside kept fragments, and
``num_frags`` long[1] per graph, collated to ``long[B]``); this module imports no chemistry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor, nn

from molssl.contrastive.losses.ntxent import NTXentLoss

__all__ = ["FragmentContrastLoss", "fragment_pool"]

logger = logging.getLogger(__name__)


def fragment_pool(
    node_emb: Tensor, frag: Tensor, num_frags: Tensor, batch: Tensor
) -> tuple[Tensor, Tensor]:
    """Mean-pool node embeddings per fragment across a batch of graphs.

    Local fragment ids are made global by adding, to each atom's id, the number of fragments of
    the graphs before its own (exclusive cumulative sum of ``num_frags``). Atoms with id ``-1``
    are ignored; a fragment with no atom pools to zeros.

    Args:
        node_emb: Node embeddings ``(N, d)``.
        frag: Local fragment id per node ``long[N]``, in ``-1..num_frags[g]-1``.
        num_frags: Fragments per graph ``long[B]``.
        batch: Graph index per node ``long[N]`` (PyG ``Batch.batch``).

    Returns:
        ``(frag_emb, frag_graph)``: ``(F, d)`` mean embeddings, ``F = num_frags.sum()``, in order
        of graph then local id, and the graph index ``long[F]`` of each fragment.

    Raises:
        ValueError: If the shapes disagree or an id is outside ``-1..num_frags[g]-1``.
    """
    n = node_emb.shape[0]
    if node_emb.dim() != 2 or frag.shape != (n,) or batch.shape != (n,) or num_frags.dim() != 1:
        raise ValueError(
            f"expected node_emb (N, d), frag (N,), batch (N,), num_frags (B,), got "
            f"{tuple(node_emb.shape)}, {tuple(frag.shape)}, {tuple(batch.shape)}, "
            f"{tuple(num_frags.shape)}"
        )
    num_frags = num_frags.to(device=node_emb.device, dtype=torch.long)
    frag = frag.to(node_emb.device)
    batch = batch.to(node_emb.device)
    total = int(num_frags.sum())
    frag_graph = torch.repeat_interleave(
        torch.arange(num_frags.numel(), device=node_emb.device), num_frags
    )
    member = frag >= 0
    if bool((frag < -1).any()) or bool((frag[member] >= num_frags[batch[member]]).any()):
        raise ValueError(
            "frag ids must lie in -1..num_frags[g]-1 for each atom's graph g; were frag and "
            "num_frags produced by the same featurizer and collated together?"
        )
    offset = torch.cumsum(num_frags, 0) - num_frags
    index = frag[member] + offset[batch[member]]
    values = node_emb[member]
    frag_emb = values.new_zeros(total, values.shape[1]).index_add_(0, index, values)
    counts = torch.bincount(index, minlength=total).clamp_min(1).to(values.dtype)
    frag_emb = frag_emb / counts.unsqueeze(1)
    return frag_emb, frag_graph


class FragmentContrastLoss(nn.Module):
    """NT-Xent between the fragments of two views of the same batch (iMolCLR).

    Args:
        temperature: NT-Xent temperature. Default 0.1 (iMolCLR).

    Negatives are the fragments of the local batch only, as in iMolCLR (its fragment NT-Xent
    ran per GPU); a batch of 512 molecules holds on the order of a thousand fragments, and a rank
    without fragments would otherwise stall the collective gather.

    With fewer than two fragments in the batch there is no negative, and the loss is a zero
    connected to ``node_a`` and ``node_b`` (``backward()`` works and nothing is NaN); ``head`` is
    not called then, so it may contain layers that need two rows (batch norm). Under DDP the
    head's parameters must also be used elsewhere in the step (iMolCLR shares ``feat_lin`` and
    the projection with the graph-level loss), or ``find_unused_parameters`` must be set.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.ntxent = NTXentLoss(temperature=temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.ntxent.temperature}"

    def forward(
        self,
        node_a: Tensor,
        node_b: Tensor,
        frag: Tensor,
        num_frags: Tensor,
        batch: Tensor,
        head: Callable[[Tensor], Tensor] | None = None,
    ) -> Tensor:
        """Compute the fragment loss.

        Args:
            node_a: Node embeddings of view A, ``(N, d)``.
            node_b: Node embeddings of view B, ``(N, d)``, same atoms in the same order.
            frag: Local fragment id per node, ``long[N]`` (``-1`` = none).
            num_frags: Fragments per graph, ``long[B]``.
            batch: Graph index per node, ``long[N]``.
            head: Applied to the pooled ``(F, d)`` fragment embeddings of each view, e.g. the
                encoder's ``feat_lin`` followed by the projection head. Default: identity.

        Returns:
            Scalar loss (mean over the ``2F`` fragment anchors).

        Raises:
            ValueError: If the two views differ in shape, or via :func:`fragment_pool`.
        """
        if node_a.shape != node_b.shape:
            raise ValueError(
                f"both views must embed the same atoms, got node_a {tuple(node_a.shape)} and "
                f"node_b {tuple(node_b.shape)}; augmentations must mask atoms, not remove them"
            )
        emb_a, _ = fragment_pool(node_a, frag, num_frags, batch)
        emb_b, _ = fragment_pool(node_b, frag, num_frags, batch)
        if emb_a.shape[0] < 2:
            logger.debug("fragment loss: %d fragment(s) in the batch, returning 0", emb_a.shape[0])
            return (node_a.sum() + node_b.sum()) * 0.0
        if head is not None:
            emb_a, emb_b = head(emb_a), head(emb_b)
        return self.ntxent(emb_a, emb_b)
