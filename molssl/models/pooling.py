"""Graph readouts by name."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torch_geometric.nn import aggr

POOLINGS: dict[str, Callable[[int], aggr.Aggregation]] = {
    "mean": lambda channels: aggr.MeanAggregation(),
    "sum": lambda channels: aggr.SumAggregation(),
    "max": lambda channels: aggr.MaxAggregation(),
    "attention": lambda channels: aggr.AttentionalAggregation(gate_nn=nn.Linear(channels, 1)),
}
"""Readouts ``channels -> Aggregation``, called as ``pool(x, index, dim_size=B)``. ``mean``,
``sum`` and ``max`` equal PyG's ``global_{mean,add,max}_pool``; ``attention`` is the gated
attention readout of Li et al. (2016) with a linear gate."""
