"""Write a released encoder: ``NAME.pt`` (encoder weights only) and its model card ``NAME.md``.

:func:`release_encoder` turns a pretraining checkpoint (``last.pt`` / ``best.pt`` of
``molssl pretrain``) into the two files :mod:`molssl.models.shipped` reads: the weights as a
molssl checkpoint with only the encoder's tensors (float16 by default, about half the bytes) and
the encoder and featurizer configs that load them, and a card whose front matter records the
objective, corpus, molecule-passes, schedule, machine, wall time, the file's SHA-256 and a
benchmark table. :func:`set_benchmark` pastes a benchmark into an existing card later (a
release is benchmarked as ``molssl:NAME`` after it is written). ``benchmarks/release_encoder.py``
is the command line over both.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molssl.contrastive.config import ConfigError, to_dict
from molssl.contrastive.io.atomic import write_text_atomic
from molssl.contrastive.io.checkpoint import load_checkpoint, save_checkpoint
from molssl.contrastive.io.digest import file_sha256
from molssl.models.pretrained import load_pretrained
from molssl.models.shipped import (
    CARD_FIELDS,
    SIZE_BUDGET_BYTES,
    ModelCardError,
    parse_front_matter,
    pretrained_dir,
)

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
"""Release names: lower-case letters, digits, ``.``, ``_`` and ``-`` (no ``:`` or ``/``)."""


@dataclass(frozen=True)
class Release:
    """What :func:`release_encoder` wrote.

    Attributes:
        weights: ``NAME.pt``.
        card: ``NAME.md``.
        sha256: SHA-256 of ``NAME.pt`` (recorded in the card).
        size: Bytes of ``NAME.pt``.
    """

    weights: Path
    card: Path
    sha256: str
    size: int


def _check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise ConfigError(
            f"release name {name!r} is not allowed: use lower-case letters, digits, '.', '_' and "
            "'-', starting with a letter or digit (e.g. molclr-gin-moses)"
        )
    return name


def _world_size(ckpt: Mapping[str, Any]) -> int:
    rng = ckpt.get("rng")  # one entry per process under DDP
    return len(rng) if isinstance(rng, list) and rng else 1


def _corpus(config: Mapping[str, Any], corpus: str | Path | None) -> dict[str, Any]:
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    path = Path(corpus) if corpus is not None else Path(data["path"]) if data.get("path") else None
    if corpus is not None and not path.is_file():
        raise FileNotFoundError(f"corpus {corpus} does not exist; give the pretraining SMILES file")
    sha = file_sha256(path) if path is not None and path.is_file() else None
    if sha is None:
        logger.warning("corpus SHA-256 left empty: pass the pretraining SMILES file as corpus")
    return {
        "file": path.name if path is not None else "first_5K.smi (RDKit's bundled)",
        "sha256": sha,
        "limit": data.get("limit"),
        "valid_size": data.get("valid_size"),
    }


def release_encoder(
    checkpoint: str | Path,
    name: str,
    out_dir: str | Path | None = None,
    *,
    half: bool = True,
    corpus: str | Path | None = None,
    machine: str | None = None,
    wall_time_s: float | None = None,
    benchmark: Mapping[str, Any] | None = None,
    notes: str | None = None,
    overwrite: bool = False,
) -> Release:
    """Write ``NAME.pt`` and the card ``NAME.md`` from a pretraining checkpoint.

    Args:
        checkpoint: ``last.pt`` (or ``best.pt``) of ``molssl pretrain``.
        name: The release name (``molssl:NAME``), see :data:`NAME_PATTERN`.
        out_dir: Where the files go (default: the releases folder,
            :func:`~molssl.models.shipped.pretrained_dir`).
        half: Store the floating-point tensors as float16 (default); loading casts them back.
        corpus: The pretraining SMILES file, for its SHA-256 (default: the checkpoint's
            ``data.path`` when that is a file).
        machine: Where it was pretrained (CPU/GPU model), for the card.
        wall_time_s: Pretraining wall time in seconds, for the card.
        benchmark: The card's ``benchmark`` section (``command``, ``ledger``, ``method``,
            ``summary``, ``rows``), e.g. from ``benchmarks/release_encoder.py --ledger``.
        notes: Markdown for people (how it was made, what the table means), kept in the card's
            front matter as ``notes`` and rendered after the benchmark table; a later
            :func:`set_benchmark` keeps it.
        overwrite: Replace an existing release of that name.

    Returns:
        :class:`Release`.

    Raises:
        ConfigError: A bad name.
        FileExistsError: The release exists and ``overwrite`` is off.
        FileNotFoundError: The checkpoint or corpus does not exist.
        molssl.contrastive.io.checkpoint.CheckpointError: The checkpoint is no complete
            molssl pretraining checkpoint.
    """
    _check_name(name)
    out = Path(out_dir) if out_dir is not None else pretrained_dir()
    weights, card = out / f"{name}.pt", out / f"{name}.md"
    if not overwrite and (weights.exists() or card.exists()):
        raise FileExistsError(f"release {weights} exists; pick another name or pass overwrite")
    loaded = load_pretrained(f"ckpt:{checkpoint}")
    ckpt = load_checkpoint(checkpoint)
    config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    state = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous()
        for k, v in loaded.encoder.state_dict().items()
    }
    save_checkpoint(
        weights,
        state,
        config={"encoder": to_dict(loaded.encoder.config)},
        metadata={
            "featurizer": loaded.featurizer.to_dict(),
            "release": {
                "name": name,
                "dtype": "float16" if half else "float32",
                "source_sha256": file_sha256(checkpoint),
            },
        },
    )
    sha, size = file_sha256(weights), weights.stat().st_size
    trainer = config.get("trainer") if isinstance(config.get("trainer"), dict) else {}
    world = _world_size(ckpt)
    steps = int(ckpt.get("step", 0))
    schedule = {
        k: trainer.get(k)
        for k in (
            "epochs",
            "max_steps",
            "lr",
            "schedule",
            "warmup_epochs",
            "min_lr",
            "weight_decay",
            "batch_size",
            "seed",
        )
    }
    header = {
        "name": name,
        "objective": config.get("objective"),
        "encoder": to_dict(loaded.encoder.config) | {"featurizer": loaded.featurizer.to_dict()},
        "corpus": _corpus(config, corpus),
        "molecule_passes": steps * int(trainer.get("batch_size") or 0) * world,
        "schedule": schedule
        | {
            "steps": steps,
            "epochs_done": int(ckpt.get("epoch", 0)),
            "processes": world,
        },
        "machine": machine,
        "wall_time_s": None if wall_time_s is None else float(wall_time_s),
        "weights": {
            "file": weights.name,
            "sha256": sha,
            "bytes": size,
            "dtype": "float16" if half else "float32",
            "source_checkpoint_sha256": file_sha256(checkpoint),
        },
        "benchmark": dict(benchmark) if benchmark else None,
    }
    if notes and notes.strip():
        header["notes"] = notes.strip()
    write_text_atomic(card, render_card(header))
    total = sum(p.stat().st_size for p in out.glob("*.pt"))
    if total > SIZE_BUDGET_BYTES:
        logger.warning(
            "the releases in %s take %.1f MB, over the %.0f MB the package allows",
            out,
            total / 1e6,
            SIZE_BUDGET_BYTES / 1e6,
        )
    return Release(weights, card, sha, size)


def set_benchmark(
    card_path: str | Path, benchmark: Mapping[str, Any] | None = None, *, notes: str | None = None
) -> Path:
    """Replace the ``benchmark`` section of a card (and its rendered table) and/or its
    ``notes``; what is not given, and every other field, stays.

    Raises:
        FileNotFoundError: No such card.
        ModelCardError: The card has no readable front matter.
    """
    path = Path(card_path)
    if not path.is_file():
        raise FileNotFoundError(f"model card {path} does not exist; release the encoder first")
    header = parse_front_matter(path.read_text(encoding="utf-8"), path)
    if benchmark is not None:
        header["benchmark"] = dict(benchmark)
    if notes is not None:
        header["notes"] = notes.strip() or None
    write_text_atomic(path, render_card(header))
    return path


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def benchmark_markdown(benchmark: Mapping[str, Any]) -> str:
    """The card's benchmark table: one row per task, the method's mean ± std (n seeds) and, when
    recorded, the baseline's."""
    rows: Sequence[Mapping[str, Any]] = benchmark.get("rows") or []
    baseline = benchmark.get("baseline")
    header = ["task", "metric", str(benchmark.get("method") or "this encoder")]
    header += [str(baseline)] if baseline else []
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [
            str(row.get("task")),
            str(row.get("metric")),
            f"{_fmt(row.get('mean'))} ± {_fmt(row.get('std'))} (n={row.get('n')})",
        ]
        if baseline:
            cells.append(f"{_fmt(row.get('baseline_mean'))} ± {_fmt(row.get('baseline_std'))}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_card(header: Mapping[str, Any]) -> str:
    """A model card: the YAML front matter, then the same facts for people.

    Raises:
        ModelCardError: ``header`` lacks a field of :data:`~molssl.models.shipped.CARD_FIELDS`.
    """
    import yaml

    missing = [key for key in CARD_FIELDS if key not in header]
    if missing:
        raise ModelCardError(f"model card header lacks {missing}")
    name = header["name"]
    objective = header.get("objective") or {}
    corpus = header.get("corpus") or {}
    passes, wall, machine = (header.get(k) for k in ("molecule_passes", "wall_time_s", "machine"))
    where = f" in {wall / 3600:.1f} h" if isinstance(wall, int | float) else ""
    where += f" on {machine}" if machine else ""
    body = [
        f"# molssl:{name}",
        "",
        f"A graph encoder pretrained with the `{objective.get('name', '-')}` objective on "
        f"`{corpus.get('file', '-')}` for {passes:,} molecule-passes{where}.",
        "",
        "```python",
        "from molssl.api import load_pretrained",
        "",  # ruff formats the code blocks of markdown files too
        f'encoder = load_pretrained("molssl:{name}").encoder',
        "```",
        "",
        f"`molssl finetune --init molssl:{name}`, `molssl embed --checkpoint molssl:{name}` and "
        f"`molssl benchmark --methods molssl:{name}` use it; every load checks the file against "
        "the SHA-256 above.",
        "",
        "## Benchmark",
        "",
    ]
    bench = header.get("benchmark")
    if bench:
        body += [f"`{bench.get('command') or '-'}`", "", benchmark_markdown(bench), ""]
        if bench.get("summary"):
            body += [str(bench["summary"]), ""]
    else:
        body += ["Not benchmarked yet.", ""]
    if header.get("notes"):
        body += [str(header["notes"]).strip(), ""]
    front = yaml.safe_dump(dict(header), sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n" + "\n".join(body)
