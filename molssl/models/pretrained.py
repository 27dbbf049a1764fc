"""The one loader and grammar for encoder weights, used by embed, fine-tuning, benchmark, predict.

A weights string names a loader in :data:`LOADERS` and, after a colon, its argument::

    ckpt:runs/x/best.pt  a molssl pretraining checkpoint: its encoder config, its featurizer and
                         hydrogen policy, its weights (a bare path means the same); the
                         model.pt of ``molssl finetune`` gives its fine-tuned encoder
    molclr-gcn:PATH      the GCN weights released with MolCLR (MolCLR featurizer, implicit H)
    molclr-gin:PATH      the GIN weights released with MolCLR
    random               a fresh encoder (EncoderConfig defaults: MolCLR's 5-layer GIN);
                         ``random:gcn`` picks the convolution

Every loader returns a :class:`LoadedEncoder`: the encoder *and* the featurizer its weights
expect, so downstream code featurizes molecules exactly as pretraining did. Partial loads are
allowed but never silent: missing and unexpected keys are logged and kept on the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from molssl.contrastive.config import ConfigError, did_you_mean, from_dict
from molssl.featurize import GraphFeaturizer, MolGraphFeaturizer, featurizer_from_dict
from molssl.models.config import EncoderConfig
from molssl.models.encoder import MolEncoder

logger = logging.getLogger(__name__)

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
GRAMMAR = "ckpt:PATH (or a bare PATH), molclr-gcn:PATH, molclr-gin:PATH, random, random:CONV"
"""The accepted weight strings, for error messages and help texts."""


@dataclass
class LoadedEncoder:
    """An encoder and the featurizer its weights expect.

    Attributes:
        encoder: The encoder, in eval mode (call ``.train()`` to fine-tune it).
        featurizer: Featurizer without extras (no fingerprints/fragments: ``h`` does not use
            them).
        init: Canonical weights string it came from (``"ckpt:runs/x/best.pt"``, ``"random"``).
        missing_keys: Encoder keys left at their initialisation.
        unexpected_keys: Checkpoint keys the encoder did not use.
    """

    encoder: MolEncoder
    featurizer: GraphFeaturizer
    init: str
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)


Loader = Callable[[str | None, float | None, Mapping[str, Any]], LoadedEncoder]


def _plain_featurizer(config: Mapping[str, Any]) -> GraphFeaturizer:
    return featurizer_from_dict({**config, "fingerprint": False, "fragments": False})


def _strip_prefixes(state: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def encoder_state_dict(ckpt: Mapping[str, Any]) -> dict[str, Any]:
    """The encoder's weights in a ``molssl pretrain`` checkpoint.

    Objectives that train a wrapper around the encoder (``byol``, ``moco``: online network,
    target network, queue) record where the encoder sits as ``ckpt["encoder_prefix"]``
    (``"online."``); the weights under it are returned with the prefix removed. Checkpoints of
    the other objectives have no prefix and are returned whole.
    """
    prefix = str(ckpt.get("encoder_prefix") or "")
    return {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}


def _log_keys(source: str, missing: list[str], unexpected: list[str]) -> None:
    if missing:
        logger.warning("%s: encoder keys missing, left at init: %s", source, missing)
    if unexpected:
        logger.warning("%s: unexpected keys ignored: %s", source, unexpected)


def _random(arg: str | None, dropout: float | None, overrides: Mapping[str, Any]) -> LoadedEncoder:
    featurizer = MolGraphFeaturizer()
    overrides = dict(overrides)
    if arg:
        overrides["conv"] = arg
    if dropout is not None:
        overrides["dropout"] = dropout
    cfg = EncoderConfig.from_featurizer(featurizer, **overrides)
    return LoadedEncoder(
        MolEncoder.from_config(cfg), featurizer, f"random:{arg}" if arg else "random"
    )


def _ckpt(arg: str | None, dropout: float | None, overrides: Mapping[str, Any]) -> LoadedEncoder:
    from molssl.contrastive.io.checkpoint import (
        CheckpointError,
        check_weight_shapes,
        load_checkpoint,
    )

    del overrides
    path = _existing_path("ckpt", arg)
    ckpt = load_checkpoint(path, map_location="cpu")
    config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    tuned = ckpt.get("finetuned")
    if isinstance(tuned, dict) and "encoder" in tuned:  # a fine-tuned model: reuse its encoder
        config = {"encoder": tuned["encoder"]}
        ckpt = {**ckpt, "featurizer": tuned["featurizer"],
                "state_dict": {k[len("encoder."):]: v for k, v in ckpt["state_dict"].items()
                               if k.startswith("encoder.")}}  # fmt: skip
    if "encoder" not in config or "featurizer" not in ckpt:
        raise CheckpointError(
            f"{path} records no config['encoder'] or 'featurizer'; it was not written by "
            "`molssl pretrain` (for MolCLR's released weights use molclr-gin:PATH or "
            "molclr-gcn:PATH)"
        )
    cfg = from_dict(EncoderConfig, config["encoder"], where=f"{path}: encoder")
    if dropout is not None:
        cfg = replace(cfg, dropout=dropout)
    encoder = MolEncoder.from_config(cfg)
    state = _strip_prefixes(encoder_state_dict(ckpt))
    check_weight_shapes(encoder, state, path, hint="; its config['encoder'] does not describe "
                        "its weights: the file was edited or assembled from two runs")  # fmt: skip
    result = encoder.load_state_dict(state, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    _log_keys(path, missing, unexpected)
    logger.info("loaded pretrained encoder %s (%s)", path, cfg.conv)
    featurizer = _plain_featurizer(ckpt["featurizer"])
    return LoadedEncoder(encoder, featurizer, f"ckpt:{path}", missing, unexpected)


def _molclr(arch: str) -> Loader:
    def load(arg: str | None, dropout: float | None, overrides: Mapping[str, Any]) -> LoadedEncoder:
        from molssl.models.molclr import load_molclr_checkpoint

        del overrides
        path = _existing_path(f"molclr-{arch}", arg)
        featurizer = MolGraphFeaturizer()
        encoder, report = load_molclr_checkpoint(
            path, arch, featurizer=featurizer, dropout=dropout or 0.0
        )
        _log_keys(path, list(report.missing_keys), list(report.unexpected_keys))
        return LoadedEncoder(encoder, featurizer, f"molclr-{arch}:{path}",
                             list(report.missing_keys), list(report.unexpected_keys))  # fmt: skip

    return load


def _existing_path(kind: str, arg: str | None) -> str:
    if not arg:
        raise ConfigError(f"weights {kind!r} need a path: write {kind}:PATH")
    if not Path(arg).is_file():
        prefix, sep, _ = arg.partition(":")
        hint = did_you_mean(prefix, LOADERS) if sep and kind == "ckpt" else ""
        raise FileNotFoundError(f"checkpoint {arg} does not exist{hint}; give weights as {GRAMMAR}")
    return arg


LOADERS: dict[str, Loader] = {
    "ckpt": _ckpt,
    "molclr-gcn": _molclr("gcn"),
    "molclr-gin": _molclr("gin"),
    "random": _random,
}
"""Weight loaders by the prefix of a weights string ``KIND[:ARG]``."""


def parse_weights(spec: str | Path) -> tuple[str, str | None]:
    """Split a weights string into ``(kind, arg)``.

    ``"random"`` gives ``("random", None)``; a string whose prefix is no key of
    :data:`LOADERS` (``"runs/x/best.pt"``, ``"C:/x.pt"``) is a path: ``("ckpt", text)``.

    Raises:
        ConfigError: For ``"random-init"`` (the benchmark's method name; the weights are
            spelled ``random``) or an empty string.
    """
    text = str(spec).strip()
    if not text:
        raise ConfigError(f"empty weights string; give one of: {GRAMMAR}")
    if text == "random-init":
        raise ConfigError("weights 'random-init' are spelled 'random' (random-init names the "
                         "benchmark method)")  # fmt: skip
    kind, sep, arg = text.partition(":")
    if kind in LOADERS:
        return kind, (arg if sep else None)
    return "ckpt", text


def load_pretrained(
    spec: str | Path,
    dropout: float | None = None,
    encoder_overrides: Mapping[str, Any] | None = None,
) -> LoadedEncoder:
    """Build the encoder a weights string names, with the featurizer its weights expect.

    Args:
        spec: ``"ckpt:PATH"`` or a bare path (a ``molssl pretrain`` checkpoint),
            ``"molclr-gcn:PATH"`` / ``"molclr-gin:PATH"`` (MolCLR's released ``model.pth``),
            ``"random"`` (``"random:gcn"`` for a GCN).
        dropout: Dropout of the encoder layers (MolCLR fine-tuning: 0.3); ``None`` keeps the
            checkpoint's (random: :class:`EncoderConfig`'s default, MolCLR files: 0).
        encoder_overrides: :class:`EncoderConfig` fields of a random encoder (e.g.
            ``{"num_layers": 2, "hidden_channels": 16}``); checkpoints fix their architecture
            and ignore them (logged).

    Returns:
        :class:`LoadedEncoder`, encoder in eval mode on the CPU.

    Raises:
        ConfigError: Malformed string, or a loader without its path.
        FileNotFoundError: The checkpoint does not exist.
        molssl.contrastive.io.checkpoint.CheckpointError: The file is no molssl pretraining
            checkpoint (for MolCLR's files use ``molclr-gin:`` / ``molclr-gcn:``).
    """
    kind, arg = parse_weights(spec)
    overrides = dict(encoder_overrides or {})
    if overrides and kind != "random":
        logger.info("encoder overrides %s ignored: %s fixes the architecture", overrides, spec)
    loaded = LOADERS[kind](arg, dropout, overrides)
    loaded.encoder.eval()
    return loaded
