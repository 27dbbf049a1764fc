"""Where a fine-tuned encoder's weights come from: ``random``, ``ckpt:PATH``, ``molclr-*:PATH``.

An init string names a loader in :data:`INITS` and, after a colon, its argument::

    random              a fresh encoder (EncoderConfig defaults: MolCLR's 5-layer GIN)
    ckpt:runs/x/best.pt a molssl pretraining checkpoint: its encoder config, its featurizer and
                        hydrogen policy, its weights
    molclr-gcn:PATH     the GCN weights released with MolCLR (MolCLR featurizer, implicit H)
    molclr-gin:PATH     the GIN weights released with MolCLR

Every loader returns the encoder *and* the featurizer its weights expect, so fine-tuning
featurizes molecules exactly as pretraining did. Missing and unexpected keys are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from molssl.config import from_dict
from molssl.featurize import GraphFeaturizer, MolGraphFeaturizer, featurizer_from_dict
from molssl.models import EncoderConfig, MolEncoder

logger = logging.getLogger(__name__)

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


@dataclass
class LoadedEncoder:
    """An encoder ready for fine-tuning and the featurizer its weights expect.

    Attributes:
        encoder: The encoder (train mode, dropout set).
        featurizer: Featurizer without extras (no fingerprints/fragments).
        init: The init string it came from.
        missing_keys: Encoder keys left at their initialisation.
        unexpected_keys: Checkpoint keys the encoder did not use.
    """

    encoder: MolEncoder
    featurizer: GraphFeaturizer
    init: str
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)


InitLoader = Callable[[str | None, float, Mapping[str, Any]], LoadedEncoder]


def _plain_featurizer(config: Mapping[str, Any]) -> GraphFeaturizer:
    return featurizer_from_dict({**config, "fingerprint": False, "fragments": False})


def _random(arg: str | None, dropout: float, overrides: Mapping[str, Any]) -> LoadedEncoder:
    featurizer = MolGraphFeaturizer()
    if arg:
        overrides = {**overrides, "conv": arg}
    cfg = EncoderConfig.from_featurizer(featurizer, **{**overrides, "dropout": dropout})
    return LoadedEncoder(
        MolEncoder.from_config(cfg), featurizer, f"random:{arg}" if arg else "random"
    )


def _strip_prefixes(state: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def load_pretrained(path: str, dropout: float = 0.0) -> LoadedEncoder:
    """Encoder and featurizer of a molssl pretraining checkpoint, with fine-tuning dropout.

    Reads the same fields as :func:`molssl.embed.load_pretrained` (``config["encoder"]``,
    ``featurizer``, ``state_dict``) but loads non-strictly, logging missing and unexpected
    keys, and builds the encoder with the requested dropout.

    Args:
        path: Checkpoint written by ``molssl pretrain`` (``best.pt`` / ``last.pt``).
        dropout: Dropout of the returned encoder. Default 0.0.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        molssl.contrastive.checkpoint.CheckpointError: Not a molssl checkpoint (for MolCLR's
            released files use ``molclr-gin:`` / ``molclr-gcn:``), or one that records no
            encoder config or featurizer.
    """
    from molssl.contrastive.checkpoint import CheckpointError, load_checkpoint

    ckpt = load_checkpoint(path)
    config = ckpt.get("config") or {}
    if "encoder" not in config or "featurizer" not in ckpt:
        raise CheckpointError(
            f"{path} records no config['encoder'] or 'featurizer'; it was not written by "
            "`molssl pretrain` (for MolCLR's released weights use molclr-gin:/molclr-gcn:)"
        )
    cfg = replace(from_dict(EncoderConfig, config["encoder"]), dropout=dropout)
    encoder = MolEncoder.from_config(cfg)
    result = encoder.load_state_dict(_strip_prefixes(ckpt["state_dict"]), strict=False)
    if result.missing_keys:
        logger.warning("%s: encoder keys missing, left at init: %s", path, result.missing_keys)
    if result.unexpected_keys:
        logger.warning("%s: unexpected keys ignored: %s", path, result.unexpected_keys)
    logger.info("loaded pretrained encoder %s (%s)", path, cfg.conv)
    return LoadedEncoder(
        encoder,
        _plain_featurizer(ckpt["featurizer"]),
        f"ckpt:{path}",
        list(result.missing_keys),
        list(result.unexpected_keys),
    )


def _ckpt(arg: str | None, dropout: float, overrides: Mapping[str, Any]) -> LoadedEncoder:
    del overrides
    return load_pretrained(_require_path("ckpt", arg), dropout)


def _molclr(arch: str) -> InitLoader:
    def load(arg: str | None, dropout: float, overrides: Mapping[str, Any]) -> LoadedEncoder:
        from molssl.models import load_molclr_checkpoint

        del overrides
        featurizer = MolGraphFeaturizer()
        encoder, report = load_molclr_checkpoint(
            _require_path(f"molclr-{arch}", arg), arch, featurizer=featurizer, dropout=dropout
        )
        return LoadedEncoder(
            encoder.train(),
            featurizer,
            f"molclr-{arch}:{arg}",
            report.missing_keys,
            report.unexpected_keys,
        )

    return load


def _require_path(kind: str, arg: str | None) -> str:
    if not arg:
        raise ValueError(f"init {kind!r} needs a path: write {kind}:PATH")
    return arg


INITS: dict[str, InitLoader] = {
    "random": _random,
    "ckpt": _ckpt,
    "molclr-gcn": _molclr("gcn"),
    "molclr-gin": _molclr("gin"),
}


def parse_init(init: str) -> tuple[str, str | None]:
    """Split ``"kind:arg"`` into ``(kind, arg)``; ``"random"`` gives ``("random", None)``.

    Raises:
        ValueError: If ``kind`` is not in :data:`INITS`.
    """
    kind, sep, arg = init.partition(":")
    if kind not in INITS:
        raise ValueError(
            f"unknown init {init!r}; use one of: random, random:gcn, ckpt:PATH, "
            "molclr-gcn:PATH, molclr-gin:PATH"
        )
    return kind, (arg if sep else None)


def load_init(
    init: str, dropout: float = 0.0, encoder_overrides: Mapping[str, Any] | None = None
) -> LoadedEncoder:
    """Build the encoder an init string names.

    Args:
        init: ``"random"`` (``"random:gcn"`` for a GCN), ``"ckpt:PATH"``,
            ``"molclr-gcn:PATH"`` or ``"molclr-gin:PATH"``.
        dropout: Dropout of the encoder (MolCLR fine-tuning: 0.3).
        encoder_overrides: :class:`EncoderConfig` fields of a random encoder (e.g.
            ``{"num_layers": 2, "hidden_channels": 16}``); checkpoints fix their architecture.

    Returns:
        :class:`LoadedEncoder`.

    Raises:
        ValueError: Unknown init kind or missing path.
        FileNotFoundError: The checkpoint does not exist.
    """
    kind, arg = parse_init(init)
    overrides = dict(encoder_overrides or {})
    if overrides and kind != "random":
        logger.info("encoder overrides %s ignored: %s fixes the architecture", overrides, init)
    loaded = INITS[kind](arg, dropout, overrides)
    loaded.encoder.train()
    return loaded
