"""The encoders released inside the package (``molssl:NAME``) and their model cards.

Each released encoder is two files in ``molssl/pretrained/``: ``NAME.pt``, a molssl checkpoint
holding only the encoder's weights (float16 allowed) with the encoder and featurizer configs
that load it, and ``NAME.md``, its model card. The card opens with a YAML front-matter block
that programs read (:data:`CARD_FIELDS`); the rest is prose for people::

    ---
    name: NAME
    objective: {name: molclr, ...}       # the ObjectiveConfig the encoder was pretrained with
    corpus: {file: moses_train.smi.gz, sha256: ...}
    molecule_passes: 1000448             # optimizer steps x batch size x processes
    schedule: {epochs: ..., lr: ..., batch_size: ..., ...}
    machine: ...                         # where it was pretrained
    wall_time_s: ...
    weights: {file: NAME.pt, sha256: ..., bytes: ..., dtype: float16}
    benchmark: {command: ..., ledger: ..., method: ..., summary: ..., rows: [...]}
    notes: ...                           # optional markdown for people, shown after the table
    ---

The SHA-256 in ``weights`` is checked on every load
(:func:`molssl.models.pretrained.load_pretrained`). The folder is ``molssl/pretrained/`` beside
this package, or ``$MOLSSL_PRETRAINED_DIR`` when that is set (tests, or a folder of one's own
releases).

This module imports no torch, so ``molssl models`` lists the encoders in a blink.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molssl.contrastive.config import ConfigError, did_you_mean

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "pretrained"
"""Where released encoders ship: ``molssl/pretrained/``."""

ENV_DIR = "MOLSSL_PRETRAINED_DIR"
"""Environment variable that replaces :data:`PACKAGE_DIR` (tests, private releases)."""

CARD_FIELDS = (
    "name",
    "objective",
    "corpus",
    "molecule_passes",
    "schedule",
    "machine",
    "wall_time_s",
    "weights",
    "benchmark",
)
"""Top-level keys of a card's front matter; :func:`card_gaps` names the ones left empty."""

SIZE_BUDGET_BYTES = 12_000_000
"""The most bytes the released ``*.pt`` files of the package may take together (12 MB)."""

REINSTALL = "reinstall molssl (pip install --force-reinstall molssl)"
"""The fix for a damaged or incomplete installed release."""


class UnknownEncoderError(ConfigError):
    """``molssl:NAME`` names no encoder in the releases folder."""


class ModelCardError(ValueError):
    """A released encoder's model card is missing or has no readable front matter."""


@dataclass(frozen=True)
class ModelCard:
    """A released encoder's card: its front matter and where the files are.

    Attributes:
        name: The release name (``molssl:NAME``).
        weights_path: ``NAME.pt``.
        card_path: ``NAME.md``.
        header: The parsed front matter (keys of :data:`CARD_FIELDS`).
    """

    name: str
    weights_path: Path
    card_path: Path
    header: dict[str, Any]

    @property
    def weights_sha256(self) -> str | None:
        """The SHA-256 of ``NAME.pt`` recorded in the card (``None`` when absent)."""
        weights = self.header.get("weights")
        sha = weights.get("sha256") if isinstance(weights, dict) else None
        return str(sha).lower() if sha else None

    def summary(self) -> tuple[str, str, str, str, str]:
        """Name, objective, molecule-passes, file size and the card's benchmark summary."""
        objective = self.header.get("objective")
        objective = objective.get("name") if isinstance(objective, dict) else objective
        passes = self.header.get("molecule_passes")
        size = self.weights_path.stat().st_size if self.weights_path.is_file() else 0
        bench = self.header.get("benchmark")
        line = bench.get("summary") if isinstance(bench, dict) else None
        return (
            f"molssl:{self.name}",
            str(objective or "-"),
            f"{passes:,} passes" if isinstance(passes, int) else "passes: -",
            f"{size / 1e6:.1f} MB",
            str(line or "no benchmark recorded"),
        )


def pretrained_dir() -> Path:
    """The releases folder: ``$MOLSSL_PRETRAINED_DIR`` if set, else :data:`PACKAGE_DIR`."""
    env = os.environ.get(ENV_DIR, "").strip()
    return Path(env).expanduser() if env else PACKAGE_DIR


def shipped_names(folder: Path | None = None) -> list[str]:
    """Names of the released encoders (the ``*.pt`` files of the folder), sorted."""
    folder = pretrained_dir() if folder is None else folder
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []


def parse_front_matter(text: str, source: str | Path) -> dict[str, Any]:
    """The YAML block between the leading ``---`` lines of a model card.

    Raises:
        ModelCardError: No front matter, malformed YAML, or not a mapping.
    """
    import yaml

    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ModelCardError(f"model card {source} does not start with a '---' front matter line")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise ModelCardError(
            f"model card {source}: its front matter has no closing '---'"
        ) from None
    try:
        header = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as err:
        reason = " ".join(str(err).split())
        raise ModelCardError(f"model card {source}: unreadable front matter ({reason})") from err
    if not isinstance(header, dict):
        raise ModelCardError(f"model card {source}: its front matter is not a mapping of fields")
    return header


def resolve_name(name: str | None, folder: Path | None = None) -> Path:
    """``NAME.pt`` of a released encoder in ``folder`` (default: :func:`pretrained_dir`).

    Raises:
        UnknownEncoderError: No such release; the message lists the shipped names with a
            did-you-mean.
    """
    folder = pretrained_dir() if folder is None else folder
    names = shipped_names(folder)
    if name and name in names:
        return folder / f"{name}.pt"
    if not name:
        problem = "weights 'molssl' need a name: write molssl:NAME"
    else:
        problem = f"no released encoder molssl:{name}{did_you_mean(name, names)}"
    listing = (
        f"shipped: {', '.join(f'molssl:{n}' for n in names)}"
        if names
        else f"none ships in {folder}"
    )
    raise UnknownEncoderError(f"{problem}; {listing} (`molssl models` lists them)")


def read_card(name: str, folder: Path | None = None) -> ModelCard:
    """The card of release ``name`` in ``folder`` (default: :func:`pretrained_dir`).

    Raises:
        UnknownEncoderError: No such release.
        ModelCardError: Its card is missing or unreadable (an incomplete installation).
    """
    weights = resolve_name(name, folder)
    card = weights.with_suffix(".md")
    if not card.is_file():
        raise ModelCardError(
            f"released encoder molssl:{name} has no model card {card} (it records the weights' "
            f"SHA-256); the installation is incomplete: {REINSTALL}"
        )
    header = parse_front_matter(card.read_text(encoding="utf-8"), card)
    return ModelCard(name, weights, card, header)


def shipped_encoders() -> list[ModelCard]:
    """The cards of the released encoders, sorted by name (``[]`` when none ships).

    Raises:
        ModelCardError: A release without a readable card.
    """
    return [read_card(name) for name in shipped_names()]


def card_gaps(card: ModelCard) -> list[str]:
    """Fields of :data:`CARD_FIELDS` (and ``corpus.sha256``, ``weights.sha256``,
    ``benchmark.command``, ``benchmark.rows``) that a card leaves empty."""
    header = card.header
    gaps = [key for key in CARD_FIELDS if header.get(key) in (None, "", [], {})]
    for section, key in (
        ("corpus", "sha256"),
        ("weights", "sha256"),
        ("benchmark", "command"),
        ("benchmark", "rows"),
    ):
        value = header.get(section)
        if isinstance(value, dict) and value.get(key) in (None, "", []):
            gaps.append(f"{section}.{key}")
    return gaps


def list_shipped() -> list[str]:
    """One line per released encoder (the columns of :meth:`ModelCard.summary`, aligned), or
    one line saying that none ships."""
    names = shipped_names()
    if not names:
        return [
            f"no pretrained encoder ships with this molssl (none in {pretrained_dir()}); "
            "load your own weights with ckpt:PATH"
        ]
    rows: list[tuple[str, ...]] = []
    for name in names:
        try:
            rows.append(read_card(name).summary())
        except ModelCardError as err:
            rows.append((f"molssl:{name}", f"unusable: {err}"))
    full = [r for r in rows if len(r) == 5] or [("",) * 5]
    widths = [max(len(r[i]) for r in full) for i in range(4)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(r[:-1], widths)), r[-1]])  # noqa: B905
        for r in rows
    ]
