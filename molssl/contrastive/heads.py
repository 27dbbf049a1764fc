"""Projection heads mapping encoder embeddings ``h`` to the contrastive space ``z``."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["PredictionHead", "ProjectionHead"]


class ProjectionHead(nn.Module):
    """MLP projection head: ``num_layers`` linear layers with ReLU (and optional BatchNorm) between.

    The default ``num_layers=2`` is Linear-ReLU-Linear, the head of SimCLR (Chen et al. 2020) and
    MolCLR's ``out_lin`` (512 -> 512 -> 256). ``num_layers=1`` is a single linear map. With
    ``batch_norm=True`` every hidden linear layer is followed by BatchNorm1d (and has no bias).

    Args:
        in_dim: Input size (encoder embedding size).
        hidden_dim: Size of the hidden layers (unused when ``num_layers=1``).
        out_dim: Output size of ``z``.
        num_layers: Number of linear layers, >= 1. Default 2.
        batch_norm: Insert BatchNorm1d after each hidden linear layer. Default False.

    Shapes:
        input ``(N, in_dim)`` -> output ``(N, out_dim)``.

    Raises:
        ValueError: If a dimension is < 1 or ``num_layers < 1``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            if value < 1:
                raise ValueError(f"ProjectionHead {name} must be >= 1, got {value}")
        if num_layers < 1:
            raise ValueError(f"ProjectionHead num_layers must be >= 1, got {num_layers}")
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        self.num_layers, self.batch_norm = num_layers, batch_norm
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            last = i == num_layers - 1
            layers.append(nn.Linear(dims[i], dims[i + 1], bias=last or not batch_norm))
            if not last:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(dims[i + 1]))
                layers.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*layers)

    def reset_parameters(self) -> None:
        """Re-initialise all linear and normalisation layers."""
        for module in self.net:
            if isinstance(module, nn.Linear | nn.BatchNorm1d):
                module.reset_parameters()

    def forward(self, h: Tensor) -> Tensor:
        """Project ``h`` of shape ``(N, in_dim)`` to ``(N, out_dim)``."""
        return self.net(h)

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, out_dim={self.out_dim}, "
            f"num_layers={self.num_layers}, batch_norm={self.batch_norm}"
        )


class PredictionHead(ProjectionHead):
    """BYOL's predictor: Linear -> BatchNorm1d -> ReLU -> Linear on the projection.

    Grill et al. 2020, "Bootstrap Your Own Latent": the online network's projection ``z`` goes
    through this MLP (hidden 4096, output 256 in the paper) and the result is regressed onto the
    target network's projection. SimSiam (Chen & He 2021) uses the same shape with a bottleneck
    (hidden = out / 4). A :class:`ProjectionHead` with ``num_layers=2, batch_norm=True``.

    Args:
        in_dim: Size of the projection it reads.
        hidden_dim: Hidden width. Default 4096 (BYOL).
        out_dim: Output size, equal to the target projection's size. Default 256.

    Shapes:
        input ``(N, in_dim)`` -> output ``(N, out_dim)``.

    Raises:
        ValueError: If a dimension is < 1.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 4096, out_dim: int = 256) -> None:
        super().__init__(in_dim, hidden_dim, out_dim, num_layers=2, batch_norm=True)
