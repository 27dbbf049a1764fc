"""The negative-cosine regression loss of BYOL and SimSiam.

References:
    Grill et al. 2020, "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning".
    Chen & He 2021, "Exploring Simple Siamese Representation Learning" (SimSiam).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["NegativeCosineLoss"]

_FORMS = ("byol", "simsiam")


class NegativeCosineLoss(nn.Module):
    """Mean negative cosine similarity between predictions and (stop-gradient) targets.

    For row ``i``, with ``c_i = cos(p_i, z_i)``::

        byol:    l_i = 2 - 2 * c_i   (= ||p_i/|p_i| - z_i/|z_i|||^2, BYOL's loss, in [0, 4])
        simsiam: l_i = -c_i          (SimSiam's D(p, z), in [-1, 1])

    and the loss is the mean over rows. ``z`` is detached: the target branch gets no gradient
    (BYOL's target network has none anyway; SimSiam needs the stop-gradient to avoid collapse).
    Symmetrise by calling it twice with the views swapped, e.g.
    ``loss(p_a, z_b) + loss(p_b, z_a)`` (BYOL) or half of that (SimSiam).

    Args:
        form: ``"byol"`` (default) or ``"simsiam"``; they differ by an affine map, so only the
            gradient scale (2x for BYOL) and the reported value differ.
        eps: Norm floor of the cosine. Default 1e-8.

    Raises:
        ValueError: If ``form`` is unknown.
    """

    def __init__(self, form: str = "byol", eps: float = 1e-8) -> None:
        super().__init__()
        if form not in _FORMS:
            raise ValueError(f"unknown form {form!r}; choose one of {list(_FORMS)}")
        self.form = form
        self.eps = float(eps)

    def extra_repr(self) -> str:
        return f"form={self.form!r}"

    def forward(self, p: Tensor, z: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            p: Online predictions, ``(N, D)``.
            z: Targets for the same samples (the other view), ``(N, D)``; detached here.

        Returns:
            Scalar loss, the mean over the ``N`` rows.

        Raises:
            ValueError: If the inputs are not 2-D, differ in shape or are empty.
        """
        if p.dim() != 2 or p.shape != z.shape or p.shape[0] == 0:
            raise ValueError(
                "p and z must be non-empty 2-D tensors (batch, dim) of the same shape, got "
                f"{tuple(p.shape)} and {tuple(z.shape)}"
            )
        cos = F.cosine_similarity(p, z.detach(), dim=1, eps=self.eps)
        if self.form == "byol":
            return (2.0 - 2.0 * cos).mean()
        return -cos.mean()
