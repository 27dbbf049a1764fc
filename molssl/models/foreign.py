"""One loader for other groups' encoder checkpoints, driven by a :class:`ForeignSource` entry.

:func:`load_foreign_checkpoint` reads a released state_dict, renames its keys with the source's
rules, infers the architecture from the tensor shapes (layers, widths, whether a projection head
is present), maps the embedding tables onto the featurizer's vocabulary (the source's row
selection, then padding with copies of row 0), flushes subnormal floats to zero and loads the
result into :class:`~molssl.models.MolEncoder`. Missing and unexpected keys are logged and
returned in :class:`LoadReport`; a file of another source is refused with the kind to write
instead. The sources themselves are declared in :data:`molssl.models.sources.FOREIGN_SOURCES`.

Subnormal values: MolCLR's released GCN holds ~109k of them, which made CPU math ~8x slower;
flushing them is numerically irrelevant (``data/checkpoints/SOURCES.md``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import NamedTuple

import torch
from torch import Tensor

from molssl.contrastive.io.checkpoint import CheckpointError, read_torch_file
from molssl.models.config import EncoderConfig, FeatureSizes
from molssl.models.encoder import MolEncoder
from molssl.models.sources import FOREIGN_SOURCES, ForeignSource

logger = logging.getLogger(__name__)

_WRAPPERS = ("state_dict", "model")


class LoadReport(NamedTuple):
    """What :func:`load_foreign_checkpoint` did.

    Attributes:
        config: The encoder config inferred from the tensor shapes.
        missing_keys: Encoder keys the checkpoint did not provide (left at their init).
        unexpected_keys: Checkpoint keys the encoder has no use for (ignored).
        padded: One line per embedding table padded to the vocabulary size.
        subnormals_flushed: Number of subnormal floats set to zero.
        remapped: One line per embedding table whose rows were selected by the source's layout.
    """

    config: EncoderConfig
    missing_keys: list[str]
    unexpected_keys: list[str]
    padded: list[str]
    subnormals_flushed: int
    remapped: tuple[str, ...] = ()


def flush_subnormals_(state_dict: Mapping[str, Tensor]) -> int:
    """Set subnormal floating-point values to zero in place; returns how many were set."""
    count = 0
    for tensor in state_dict.values():
        if tensor.is_floating_point():
            mask = (tensor != 0) & (tensor.abs() < torch.finfo(tensor.dtype).tiny)
            count += int(mask.sum())
            tensor.masked_fill_(mask, 0.0)
    return count


def rename_keys(state_dict: Mapping[str, Tensor], source: ForeignSource) -> dict[str, Tensor]:
    """The source's keys as :class:`MolEncoder` keys (``module.`` prefixes stripped)."""
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        while key.startswith("module."):
            key = key[len("module.") :]
        out[source.rename(key)] = value
    return out


def unwrap_state_dict(obj: object, path: str | PathLike[str], fix: str) -> Mapping[str, Tensor]:
    """The name -> tensor mapping in ``obj`` (possibly under ``"state_dict"`` or ``"model"``).

    Raises:
        CheckpointError: ``obj`` holds no such mapping.
    """
    if isinstance(obj, Mapping):
        for wrapper in _WRAPPERS:
            if isinstance(obj.get(wrapper), Mapping):
                obj = obj[wrapper]
                break
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()
    ):
        raise CheckpointError(
            f"{path} does not hold a state_dict (a mapping of names to tensors, possibly under "
            f"'state_dict' or 'model'); {fix}"
        )
    return obj


def _fit_table(
    state: dict[str, Tensor],
    key: str,
    rows: int,
    layout: Sequence[int] | None,
    padded: list[str],
    remapped: list[str],
) -> None:
    """Select the source's ``layout`` rows of table ``key``, then pad it to ``rows``."""
    table = state.get(key)
    if table is None:
        return
    if table.dim() != 2:
        raise CheckpointError(f"checkpoint table {key} has shape {list(table.shape)}, not 2-D")
    if layout is not None:
        if table.size(0) <= max(layout):
            raise CheckpointError(
                f"checkpoint table {key} has {table.size(0)} rows; this source's layout reads "
                f"row {max(layout)}: the file is not of the source named"
            )
        remapped.append(f"{key}: {table.size(0)} -> {len(layout)} rows (source layout)")
        table = table[list(layout)]
        state[key] = table
    if table.size(0) == rows:
        return
    if table.size(0) > rows:
        raise CheckpointError(
            f"checkpoint table {key} has {table.size(0)} rows but the featurizer vocabulary has "
            f"{rows}; use a featurizer whose feature sizes cover the checkpoint"
        )
    state[key] = torch.cat([table, table[:1].expand(rows - table.size(0), -1)], dim=0)
    padded.append(f"{key}: {table.size(0)} -> {rows} rows (copies of row 0)")


def _source(source: str | ForeignSource) -> ForeignSource:
    if isinstance(source, ForeignSource):
        return source
    if source not in FOREIGN_SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {sorted(FOREIGN_SOURCES)}")
    return FOREIGN_SOURCES[source]


def load_foreign_checkpoint(
    path: str | PathLike[str],
    source: str | ForeignSource,
    map_location: str | torch.device = "cpu",
    featurizer: FeatureSizes | None = None,
    dropout: float = 0.0,
    pooling: str = "mean",
) -> tuple[MolEncoder, LoadReport]:
    """Load another group's released encoder weights into :class:`MolEncoder`.

    Args:
        path: The released file (a plain state_dict, or one under ``"state_dict"``/``"model"``;
            ``module.`` prefixes are stripped).
        source: A key of :data:`~molssl.models.sources.FOREIGN_SOURCES` (``"molclr-gcn"``,
            ``"molclr-gin"``, ``"hu2020-gcn"``) or a :class:`ForeignSource`.
        map_location: Passed to ``torch.load`` (loaded with ``weights_only=True``).
        featurizer: Object with ``atom_feature_sizes``, ``bond_feature_sizes`` and
            ``self_loop_bond``; ``None`` builds the source's featurizer.
        dropout: Dropout of the returned encoder (fine-tuning may want > 0); default 0.0.
        pooling: Readout of the returned encoder; default ``"mean"`` (all sources so far).

    Returns:
        ``(encoder in eval mode, LoadReport)``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``source`` is no registered source.
        molssl.contrastive.io.checkpoint.CheckpointError: If the file is unreadable, holds no
            state_dict, belongs to another source, lacks the tensors the sizes are inferred
            from, or has tables that do not fit the featurizer.
    """
    src = _source(source)
    fix = f"pass {src.origin} (see data/checkpoints/SOURCES.md)"
    loaded = read_torch_file(path, map_location, fix=fix)
    if isinstance(loaded, dict) and "format_version" in loaded and "state_dict" in loaded:
        raise CheckpointError(
            f"{path} is a molssl checkpoint, not {src.name}'s released weights; write "
            f"ckpt:{path} (or the bare path)"
        )
    raw = unwrap_state_dict(loaded, path, fix)
    state = rename_keys(raw, src)
    if src.marker not in state:
        others = [
            o.name
            for o in FOREIGN_SOURCES.values()
            if o.name != src.name and o.marker in rename_keys(raw, o)
        ]
        raise CheckpointError(
            f"{path} looks like a {others[0]} checkpoint, not {src.conv!r}; write "
            f"{others[0]}:{path}"
            if others
            else f"{path} is not a {src.name} checkpoint (it has no {src.marker}); {fix}"
        )
    atom_key = "atom_encoder.embeddings.0.weight"
    required = [atom_key, *(["feat_lin.weight", "out_lin.2.weight"] if src.head else [])]
    if absent := [k for k in required if k not in state]:
        raise CheckpointError(
            f"{path} lacks {absent}; it is not a complete {src.name} encoder checkpoint; {fix}"
        )
    if flat := [k for k in required if state[k].dim() != 2]:
        raise CheckpointError(f"{path}: {flat} are not 2-D weight matrices; {fix}")
    if featurizer is None:
        from molssl.featurize import featurizer_from_dict

        featurizer = featurizer_from_dict(src.featurizer)
    layers = {int(m.group(1)) for k in state if (m := re.match(r"^gnns\.(\d+)\.", k))}
    if layers != set(range(len(layers))):
        raise CheckpointError(f"{path}: layers {sorted(layers)} are not numbered 0..n-1; {fix}")
    hidden = state[atom_key].size(1)
    cfg = EncoderConfig(
        conv=src.conv,
        num_layers=len(layers),
        hidden_channels=hidden,
        out_channels=state["feat_lin.weight"].size(0) if src.head else hidden,
        proj_dim=state["out_lin.2.weight"].size(0) if src.head else hidden,
        dropout=dropout,
        pooling=pooling,
        head=src.head,
        atom_feature_sizes=tuple(featurizer.atom_feature_sizes),
        bond_feature_sizes=tuple(featurizer.bond_feature_sizes),
        self_loop_bond=tuple(featurizer.self_loop_bond),
    )
    padded: list[str] = []
    remapped: list[str] = []
    for j, rows in enumerate(cfg.atom_feature_sizes):
        layout = src.atom_rows[j] if j < len(src.atom_rows) else None
        _fit_table(state, f"atom_encoder.embeddings.{j}.weight", rows, layout, padded, remapped)
    for i in range(cfg.num_layers):
        for j, rows in enumerate(cfg.bond_feature_sizes):
            layout = src.bond_rows[j] if j < len(src.bond_rows) else None
            key = f"gnns.{i}.bond_encoder.embeddings.{j}.weight"
            _fit_table(state, key, rows, layout, padded, remapped)
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
    logger.info("loaded %s as %s (%s, %d subnormals flushed)", path, src.name, cfg, flushed)
    report = LoadReport(
        config=cfg,
        missing_keys=list(result.missing_keys),
        unexpected_keys=list(result.unexpected_keys),
        padded=padded,
        subnormals_flushed=flushed,
        remapped=tuple(remapped),
    )
    return model, report
