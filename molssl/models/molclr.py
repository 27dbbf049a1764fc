"""Load the checkpoints released with MolCLR (Wang et al., 2022) into :class:`MolEncoder`.

The authors' ``ginet_molclr.py`` / ``gcn_molclr.py`` state_dicts map onto :class:`MolEncoder`
key by key, except the embedding tables:

- ``x_embedding{k}.weight`` -> ``atom_encoder.embeddings.{k-1}.weight``
- ``gnns.{i}.edge_embedding{k}.weight`` -> ``gnns.{i}.bond_encoder.embeddings.{k-1}.weight``

The released weights know 3 chirality tags (``x_embedding2 [3, 300]``) while the featurizer's
vocabulary has 4 (unspecified, CW, CCW, other). A table with fewer rows than the vocabulary is
padded with copies of its row 0 -- for chirality, CHI_UNSPECIFIED: an atom tagged "other" is
encoded as an atom without chirality information, which the model has seen, rather than with a
zero vector it has never seen. The padding is logged and listed in :class:`LoadReport`.

The released float32 weights hold ~109k subnormal values that slow CPU math ~8x; they are
flushed to zero on load (numerically irrelevant, see ``data/checkpoints/SOURCES.md``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from os import PathLike
from typing import NamedTuple

import torch
from torch import Tensor

from molssl.contrastive.io.checkpoint import CheckpointError, read_torch_file
from molssl.models.config import EncoderConfig, FeatureSizes
from molssl.models.encoder import MolEncoder

logger = logging.getLogger(__name__)

_KEY_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^x_embedding(\d+)\.weight$"), "atom_encoder.embeddings.{k}.weight"),
    (
        re.compile(r"^gnns\.(\d+)\.edge_embedding(\d+)\.weight$"),
        "gnns.{i}.bond_encoder.embeddings.{k}.weight",
    ),
)
_ARCH_MARKERS = {"gin": "gnns.0.mlp.0.weight", "gcn": "gnns.0.weight"}


class LoadReport(NamedTuple):
    """What :func:`load_molclr_checkpoint` did.

    Attributes:
        config: The encoder config inferred from the tensor shapes.
        missing_keys: Encoder keys the checkpoint did not provide (left at their init).
        unexpected_keys: Checkpoint keys the encoder has no use for (ignored).
        padded: One line per embedding table padded to the vocabulary size.
        subnormals_flushed: Number of subnormal floats set to zero.
    """

    config: EncoderConfig
    missing_keys: list[str]
    unexpected_keys: list[str]
    padded: list[str]
    subnormals_flushed: int


def flush_subnormals_(state_dict: Mapping[str, Tensor]) -> int:
    """Set subnormal floating-point values to zero in place; returns how many were set."""
    count = 0
    for tensor in state_dict.values():
        if tensor.is_floating_point():
            mask = (tensor != 0) & (tensor.abs() < torch.finfo(tensor.dtype).tiny)
            count += int(mask.sum())
            tensor.masked_fill_(mask, 0.0)
    return count


def map_molclr_keys(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename MolCLR keys to :class:`MolEncoder` keys; strips ``module.``; others pass through."""
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        while key.startswith("module."):
            key = key[len("module.") :]
        for pattern, template in _KEY_RULES:
            match = pattern.match(key)
            if match:
                groups = [int(g) for g in match.groups()]
                i, k = (groups[0], groups[1]) if len(groups) == 2 else (None, groups[0])
                key = template.format(i=i, k=k - 1)
                break
        out[key] = value
    return out


def _unwrap(obj: object, path: str | PathLike[str]) -> Mapping[str, Tensor]:
    if isinstance(obj, Mapping):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), Mapping):
                obj = obj[wrapper]
                break
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()
    ):
        raise CheckpointError(
            f"{path} does not hold a state_dict (a mapping of names to tensors, possibly under "
            "'state_dict' or 'model'); pass the model.pth released with MolCLR"
        )
    return obj


def _pad_rows(state: dict[str, Tensor], key: str, rows: int, padded: list[str]) -> None:
    table = state.get(key)
    if table is None or table.size(0) == rows:
        return
    if table.dim() != 2:
        raise CheckpointError(f"checkpoint table {key} has shape {list(table.shape)}, not 2-D")
    if table.size(0) > rows:
        raise CheckpointError(
            f"checkpoint table {key} has {table.size(0)} rows but the featurizer vocabulary has "
            f"{rows}; use a featurizer whose feature sizes cover the checkpoint"
        )
    extra = table[:1].expand(rows - table.size(0), -1)
    state[key] = torch.cat([table, extra], dim=0)
    padded.append(f"{key}: {table.size(0)} -> {rows} rows (copies of row 0)")


def load_molclr_checkpoint(
    path: str | PathLike[str],
    arch: str = "gin",
    map_location: str | torch.device = "cpu",
    *,
    featurizer: FeatureSizes | None = None,
    dropout: float = 0.0,
    pooling: str = "mean",
) -> tuple[MolEncoder, LoadReport]:
    """Build a :class:`MolEncoder` from a checkpoint released with MolCLR.

    Layers, width, ``out_channels`` and ``proj_dim`` are inferred from the tensor shapes; the
    vocabulary sizes come from ``featurizer`` (default: ``molssl.featurize.vocab``).

    Args:
        path: ``model.pth`` of the authors' repository (plain state_dict, or one under
            ``"state_dict"``/``"model"``; ``module.`` prefixes are stripped).
        arch: ``"gin"`` or ``"gcn"``; must match the checkpoint.
        map_location: Passed to ``torch.load`` (loaded with ``weights_only=True``).
        featurizer: Object with ``atom_feature_sizes``, ``bond_feature_sizes``,
            ``self_loop_bond``; ``None`` uses the MolCLR vocabulary.
        dropout: Dropout of the returned encoder (fine-tuning may want > 0); default 0.0.
        pooling: Readout of the returned encoder; default ``"mean"`` (MolCLR's).

    Returns:
        ``(encoder in eval mode, LoadReport)``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``arch`` is unknown.
        molssl.contrastive.io.checkpoint.CheckpointError: If the file is unreadable, holds no
            state_dict, does not match ``arch``, lacks the tensors the sizes are inferred from,
            or has weights that do not fit the featurizer (e.g. a table larger than its
            vocabulary).
    """
    if arch not in _ARCH_MARKERS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(_ARCH_MARKERS)}")
    fix = "pass the model.pth released with MolCLR (see data/checkpoints/SOURCES.md)"
    obj = read_torch_file(path, map_location, fix=fix)
    state = map_molclr_keys(_unwrap(obj, path))
    found = [name for name, marker in _ARCH_MARKERS.items() if marker in state]
    if found != [arch]:
        other = f"molclr-{found[0]}:" if len(found) == 1 else None
        raise CheckpointError(
            f"{path} looks like a {found or 'non-MolCLR'} checkpoint, not {arch!r}; "
            + (f"write {other}{path}" if other else fix)
        )
    required = ["atom_encoder.embeddings.0.weight", "feat_lin.weight", "out_lin.2.weight"]
    if absent := [k for k in required if k not in state]:
        raise CheckpointError(
            f"{path} lacks {absent}; it is not a complete MolCLR encoder checkpoint; {fix}"
        )
    if flat := [k for k in required if state[k].dim() != 2]:
        raise CheckpointError(f"{path}: {flat} are not 2-D weight matrices; {fix}")
    sizes = featurizer if featurizer is not None else EncoderConfig()
    layers = {int(m.group(1)) for k in state if (m := re.match(r"^gnns\.(\d+)\.", k))}
    if layers != set(range(len(layers))):
        raise CheckpointError(f"{path}: layers {sorted(layers)} are not numbered 0..n-1; {fix}")
    cfg = EncoderConfig(
        conv=arch,
        num_layers=max(layers) + 1,
        hidden_channels=state["atom_encoder.embeddings.0.weight"].size(1),
        out_channels=state["feat_lin.weight"].size(0),
        proj_dim=state["out_lin.2.weight"].size(0),
        dropout=dropout,
        pooling=pooling,
        atom_feature_sizes=tuple(sizes.atom_feature_sizes),
        bond_feature_sizes=tuple(sizes.bond_feature_sizes),
        self_loop_bond=tuple(sizes.self_loop_bond),
    )
    padded: list[str] = []
    for j, rows in enumerate(cfg.atom_feature_sizes):
        _pad_rows(state, f"atom_encoder.embeddings.{j}.weight", rows, padded)
    for i in range(cfg.num_layers):
        for j, rows in enumerate(cfg.bond_feature_sizes):
            _pad_rows(state, f"gnns.{i}.bond_encoder.embeddings.{j}.weight", rows, padded)
    flushed = flush_subnormals_(state)
    model = MolEncoder.from_config(cfg)
    result = model.load_state_dict(state, strict=False)
    model.eval()
    for line in padded:
        logger.info("padded %s", line)
    if result.missing_keys:
        logger.warning("%s: missing keys left at init: %s", path, result.missing_keys)
    if result.unexpected_keys:
        logger.warning("%s: unexpected keys ignored: %s", path, result.unexpected_keys)
    logger.info("loaded %s (%s, %d subnormals flushed)", path, cfg, flushed)
    report = LoadReport(
        config=cfg,
        missing_keys=list(result.missing_keys),
        unexpected_keys=list(result.unexpected_keys),
        padded=padded,
        subnormals_flushed=flushed,
    )
    return model, report
