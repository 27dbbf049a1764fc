"""The one loader and grammar for encoder weights, used by embed, fine-tuning, benchmark, predict.

A weights string names a loader in :data:`LOADERS` and, after a colon, its argument; the kinds
are registered in :data:`molssl.models.sources.WEIGHT_KINDS`::

    ckpt:runs/x/best.pt  a molssl pretraining checkpoint: its encoder config, its featurizer and
                         hydrogen policy, its weights (a bare path means the same); the
                         model.pt of ``molssl finetune`` gives its fine-tuned encoder
    molssl:NAME          an encoder released inside the package (``molssl models`` lists them;
                         :mod:`molssl.models.shipped`), its file checked against the SHA-256
                         of its model card
    molclr-gcn:PATH      the GCN weights released with MolCLR (MolCLR featurizer, implicit H)
    molclr-gin:PATH      the GIN weights released with MolCLR
    hu2020-gcn:PATH      a GCN released with Hu et al. (2020) (no projection head)
    random               a fresh encoder (EncoderConfig defaults: MolCLR's 5-layer GIN);
                         ``random:gcn`` picks the convolution; ``random-init`` (the benchmark's
                         name) is the same

Every kind but ``ckpt``, ``molssl`` and ``random`` is another group's checkpoint, loaded by
:func:`molssl.models.foreign.load_foreign_checkpoint` from its entry in
:data:`~molssl.models.sources.FOREIGN_SOURCES`.

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
from molssl.contrastive.io.checkpoint import CheckpointError
from molssl.featurize import GraphFeaturizer, MolGraphFeaturizer, featurizer_from_dict
from molssl.models.config import EncoderConfig
from molssl.models.encoder import MolEncoder
from molssl.models.sources import FOREIGN_SOURCES, RANDOM_ALIASES, WEIGHT_KINDS, weights_grammar

logger = logging.getLogger(__name__)

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
GRAMMAR = weights_grammar(", ") + " (a bare PATH means ckpt:PATH)"
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
    return featurizer_from_dict(
        {**config, "fingerprint": False, "fragments": False, "descriptors": False}
    )


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
    from molssl.contrastive.io.checkpoint import check_weight_shapes, load_checkpoint

    del overrides
    path = _existing_path("ckpt", arg)
    try:
        ckpt = load_checkpoint(path, map_location="cpu")
    except CheckpointError as err:
        if "is not a molssl checkpoint" not in str(err):
            raise
        raise CheckpointError(
            f"{path} is not a molssl checkpoint (no format_version/state_dict keys); for other "
            "groups' released weights write "
            + " or ".join(f"{name}:{path}" for name in FOREIGN_SOURCES)
        ) from err
    config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    tuned = ckpt.get("finetuned")
    if isinstance(tuned, dict) and "encoder" in tuned:  # a fine-tuned model: reuse its encoder
        config = {"encoder": tuned["encoder"]}
        ckpt = {
            **ckpt,
            "featurizer": tuned["featurizer"],
            "state_dict": {
                k[len("encoder.") :]: v
                for k, v in ckpt["state_dict"].items()
                if k.startswith("encoder.")
            },
        }
    if "encoder" not in config or "featurizer" not in ckpt:
        raise CheckpointError(
            f"{path} records no config['encoder'] or 'featurizer'; it was not written by "
            "`molssl pretrain` (for other groups' released weights use "
            + ", ".join(f"{name}:PATH" for name in FOREIGN_SOURCES)
            + ")"
        )
    cfg = from_dict(EncoderConfig, config["encoder"], where=f"{path}: encoder")
    if dropout is not None:
        cfg = replace(cfg, dropout=dropout)
    encoder = MolEncoder.from_config(cfg)
    state = _strip_prefixes(encoder_state_dict(ckpt))
    check_weight_shapes(
        encoder,
        state,
        path,
        hint="; its config['encoder'] does not describe "
        "its weights: the file was edited or assembled from two runs",
    )
    result = encoder.load_state_dict(state, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    _log_keys(path, missing, unexpected)
    logger.info("loaded pretrained encoder %s (%s)", path, cfg.conv)
    featurizer = _plain_featurizer(ckpt["featurizer"])
    return LoadedEncoder(encoder, featurizer, f"ckpt:{path}", missing, unexpected)


class CorruptEncoderError(CheckpointError):
    """A released encoder's file does not match the SHA-256 of its model card."""


def _released(
    arg: str | None, dropout: float | None, overrides: Mapping[str, Any]
) -> LoadedEncoder:
    from molssl.contrastive.io.digest import file_sha256
    from molssl.models.shipped import REINSTALL, ModelCardError, read_card

    card = read_card(arg or "")
    expected = card.weights_sha256
    if not expected:
        raise ModelCardError(
            f"model card {card.card_path} records no weights.sha256 for {card.weights_path}; "
            f"the installation is incomplete: {REINSTALL}"
        )
    actual = file_sha256(card.weights_path)
    if actual != expected:
        raise CorruptEncoderError(
            f"released encoder {card.weights_path} is damaged: SHA-256 {actual}, its model card "
            f"{card.card_path.name} records {expected}; {REINSTALL}"
        )
    loaded = _ckpt(str(card.weights_path), dropout, overrides)
    if loaded.missing_keys:
        raise CorruptEncoderError(
            f"released encoder {card.weights_path} lacks {len(loaded.missing_keys)} encoder "
            f"tensors ({', '.join(loaded.missing_keys[:3])}); {REINSTALL}"
        )
    return replace(loaded, init=f"molssl:{card.name}")


def _foreign(name: str) -> Loader:
    def load(arg: str | None, dropout: float | None, overrides: Mapping[str, Any]) -> LoadedEncoder:
        from molssl.models.foreign import load_foreign_checkpoint

        del overrides
        path = _existing_path(name, arg)
        source = FOREIGN_SOURCES[name]
        featurizer = _plain_featurizer(source.featurizer)
        encoder, report = load_foreign_checkpoint(
            path, source, featurizer=featurizer, dropout=dropout or 0.0
        )
        _log_keys(path, list(report.missing_keys), list(report.unexpected_keys))
        return LoadedEncoder(
            encoder,
            featurizer,
            f"{name}:{path}",
            list(report.missing_keys),
            list(report.unexpected_keys),
        )

    return load


def _existing_path(kind: str, arg: str | None) -> str:
    if not arg:
        raise ConfigError(f"weights {kind!r} need a path: write {kind}:PATH")
    if Path(arg).is_dir():
        found = sorted(p.name for p in Path(arg).glob("*.pt"))
        inside = (
            f"give one of its files: {', '.join(f'{kind}:{Path(arg) / n}' for n in found)}"
            if found
            else "it holds no .pt file; give the checkpoint file itself"
        )
        raise FileNotFoundError(f"checkpoint {arg} is a folder, not a file; {inside}")
    if not Path(arg).is_file():
        prefix, sep, _ = arg.partition(":")
        hint = did_you_mean(prefix, LOADERS) if sep and kind == "ckpt" else ""
        raise FileNotFoundError(f"checkpoint {arg} does not exist{hint}; give weights as {GRAMMAR}")
    return arg


LOADERS: dict[str, Loader] = {
    name: {"ckpt": _ckpt, "molssl": _released, "random": _random}.get(name) or _foreign(name)
    for name in WEIGHT_KINDS
}
"""Weight loaders by the prefix of a weights string ``KIND[:ARG]``, one per
:data:`~molssl.models.sources.WEIGHT_KINDS` entry."""


def parse_weights(spec: str | Path) -> tuple[str, str | None]:
    """Split a weights string into ``(kind, arg)``.

    ``"random"`` gives ``("random", None)``, and so does its alias ``"random-init"`` (the
    benchmark's name); a string whose prefix is no key of :data:`LOADERS` (``"runs/x/best.pt"``,
    ``"C:/x.pt"``) is a path: ``("ckpt", text)``.

    Raises:
        ConfigError: For an empty string.
    """
    text = str(spec).strip()
    if not text:
        raise ConfigError(f"empty weights string; give one of: {GRAMMAR}")
    kind, sep, arg = text.partition(":")
    if kind in RANDOM_ALIASES:
        kind = "random"
    if kind in LOADERS:
        return kind, (arg if sep else None)
    return "ckpt", text


def load_pretrained(
    spec: str | Path,
    dropout: float | None = None,
    encoder_overrides: Mapping[str, Any] | None = None,
    *,
    allow_partial: bool = False,
) -> LoadedEncoder:
    """Build the encoder a weights string names, with the featurizer its weights expect.

    Args:
        spec: ``"ckpt:PATH"`` or a bare path (a ``molssl pretrain`` checkpoint),
            ``"molssl:NAME"`` (an encoder released inside the package: ``molssl models``),
            ``"molclr-gcn:PATH"`` / ``"molclr-gin:PATH"`` (MolCLR's released ``model.pth``),
            ``"hu2020-gcn:PATH"`` (a GCN of Hu et al. 2020), ``"random"`` (``"random:gcn"``
            for a GCN; ``"random-init"`` is the same).
        dropout: Dropout of the encoder layers (MolCLR fine-tuning: 0.3); ``None`` keeps the
            checkpoint's (random: :class:`EncoderConfig`'s default, other groups' files: 0).
        encoder_overrides: :class:`EncoderConfig` fields of a random encoder (e.g.
            ``{"num_layers": 2, "hidden_channels": 16}``); checkpoints fix their architecture
            and ignore them (logged).
        allow_partial: Accept a molssl checkpoint that lacks some of the encoder's tensors
            (they stay at their initialisation; logged). Default ``False``: refused.

    Returns:
        :class:`LoadedEncoder`, encoder in eval mode on the CPU.

    Raises:
        ConfigError: Malformed string, or a loader without its path.
        molssl.models.shipped.UnknownEncoderError: ``molssl:NAME`` names no released encoder
            (the message lists them).
        CorruptEncoderError: A released encoder's file does not match its model card's SHA-256.
        molssl.models.shipped.ModelCardError: A released encoder without a readable card.
        FileNotFoundError: The checkpoint does not exist.
        molssl.contrastive.io.checkpoint.CheckpointError: The file is no molssl pretraining
            checkpoint (for other groups' files use their kind, e.g. ``molclr-gin:``), not
            of the source named, or (without ``allow_partial``) lacks encoder tensors.
    """
    kind, arg = parse_weights(spec)
    overrides = dict(encoder_overrides or {})
    if overrides and kind != "random":
        logger.info("encoder overrides %s ignored: %s fixes the architecture", overrides, spec)
    loaded = LOADERS[kind](arg, dropout, overrides)
    missing = loaded.missing_keys
    if kind == "ckpt" and missing and not allow_partial:
        total = len(loaded.encoder.state_dict())
        raise CheckpointError(
            f"{arg} lacks {len(missing)} of the encoder's {total} tensors ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); the file is damaged or incomplete: use "
            "another checkpoint, or pass --allow-partial to leave them at their initialisation"
        )
    loaded.encoder.eval()
    return loaded
