"""Release a pretrained encoder inside the package: ``NAME.pt`` + model card ``NAME.md``.

From a pretraining checkpoint (``last.pt`` of ``molssl pretrain``) this writes the encoder's
weights only (float16 unless ``--float32``) with the encoder and featurizer configs that load
them, and the card skeleton: objective, corpus and its SHA-256, molecule-passes, schedule,
``--machine``, ``--wall-time-s`` and the file's SHA-256 filled in (see
:mod:`molssl.models.shipped` for the card's fields). The encoder then loads as ``molssl:NAME``
everywhere weights are accepted.

The benchmark table is pasted from a benchmark ledger (a ``molssl benchmark`` results folder,
e.g. ``benchmarks/ledgers/moleculenet_quick``): ``--ledger DIR --method LABEL`` takes that
method's finished cells, mean ± std over seeds per task, beside ``--baseline`` (default
``random-init``, when the ledger has it). Without a checkpoint, the table goes into the
existing card of ``--name`` (an encoder is benchmarked as ``molssl:NAME`` after its release).
``--notes FILE`` (markdown: how it was made, what the table means) goes into the card's
``notes`` field, rendered after the table; pasting a table later keeps it, and ``--notes``
without a checkpoint replaces it.

Usage::

    python benchmarks/release_encoder.py runs/pretrain/last.pt --name molclr-gin-moses
        [--out molssl/pretrained] [--float32] [--corpus moses_train.smi.gz]
        [--machine "1x NVIDIA H100"] [--wall-time-s 5400] [--notes made.md] [--overwrite]
    python benchmarks/release_encoder.py --name molclr-gin-moses
        --ledger benchmarks/ledgers/release --method molclr-gin-moses
        --command "molssl benchmark --methods molclr-gin-moses=molssl:molclr-gin-moses ..."
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _number(value: Any) -> float | None:
    return None if value is None or math.isnan(float(value)) else round(float(value), 4)


def ledger_benchmark(
    ledger_dir: str | Path,
    method: str,
    *,
    baseline: str | None = "random-init",
    command: str | None = None,
) -> dict[str, Any]:
    """The card's ``benchmark`` section from a results folder: one row per task of ``method``.

    Args:
        ledger_dir: A ``molssl benchmark`` results folder (its ``results.csv``).
        method: The method label of the released encoder in that ledger.
        baseline: A second method shown beside it (``None``: none; skipped when absent).
        command: The command that wrote the ledger.

    Returns:
        ``{"command", "ledger", "method", "baseline", "summary", "rows"}``; each row
        ``{"task", "metric", "mean", "std", "n", "baseline_mean", "baseline_std"}``.

    Raises:
        FileNotFoundError: No ``results.csv`` in ``ledger_dir``.
        ConfigError: ``method`` has no finished cell there (the message lists the methods).
    """
    from molssl.benchmark.ledger import read_ledger
    from molssl.benchmark.stats import METRIC_LABELS, summarize
    from molssl.contrastive.config import ConfigError, did_you_mean

    results = Path(ledger_dir) / "results.csv"
    if not results.is_file():
        raise FileNotFoundError(f"ledger {ledger_dir} has no results.csv; give a benchmark folder")
    summary = summarize(read_ledger(results))
    methods = list(dict.fromkeys(summary["method"]))
    mine = summary[summary["method"] == method]
    if mine.empty:
        raise ConfigError(
            f"ledger {ledger_dir} has no finished cell of method {method!r}"
            f"{did_you_mean(method, methods)}; its methods: {', '.join(methods) or 'none'}"
        )
    base = summary[summary["method"] == baseline].set_index("task") if baseline else None
    if base is not None and base.empty:
        logging.getLogger(__name__).info("baseline %s is not in %s; left out", baseline, results)
        base, baseline = None, None
    rows = []
    for r in mine.itertuples(index=False):
        row = {
            "task": r.task,
            "metric": r.metric,
            "mean": _number(r.mean),
            "std": _number(r.std),
            "n": int(r.n),
        }
        if base is not None:
            other = base.loc[r.task] if r.task in base.index else None
            row["baseline_mean"] = None if other is None else _number(other["mean"])
            row["baseline_std"] = None if other is None else _number(other["std"])
        rows.append(row)
    parts = []
    for metric in dict.fromkeys(row["metric"] for row in rows):
        picked = [row for row in rows if row["metric"] == metric and row["mean"] is not None]
        if not picked:
            continue
        mean = sum(row["mean"] for row in picked) / len(picked)
        text = f"mean {METRIC_LABELS.get(metric, metric)} {mean:.3f} over {len(picked)} tasks"
        paired = [row for row in picked if row.get("baseline_mean") is not None]
        if baseline and len(paired) == len(picked):
            base_mean = sum(row["baseline_mean"] for row in paired) / len(paired)
            text += f" ({baseline} {base_mean:.3f})"
        parts.append(text)
    ledger = Path(ledger_dir).resolve()
    shown = ledger.relative_to(REPO) if ledger.is_relative_to(REPO) else Path(ledger_dir)
    return {
        "command": command,
        "ledger": str(shown),
        "method": method,
        "baseline": baseline,
        "summary": "; ".join(parts),
        "rows": rows,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkpoint",
        nargs="?",
        default=None,
        help="last.pt of molssl pretrain (omit to paste --ledger into the existing card of --name)",
    )
    parser.add_argument("--name", required=True, help="release name, loaded as molssl:NAME")
    parser.add_argument(
        "--out",
        default=None,
        help="releases folder (default: molssl/pretrained, or $MOLSSL_PRETRAINED_DIR)",
    )
    parser.add_argument("--float32", action="store_true", help="keep float32 weights")
    parser.add_argument("--corpus", default=None, help="pretraining SMILES file, for its SHA-256")
    parser.add_argument("--machine", default=None, help="where it was pretrained (CPU/GPU model)")
    parser.add_argument("--wall-time-s", type=float, default=None, help="pretraining wall time")
    parser.add_argument("--ledger", default=None, help="benchmark results folder for the table")
    parser.add_argument("--method", default=None, help="the encoder's method label in --ledger")
    parser.add_argument(
        "--baseline",
        default="random-init",
        help="method shown beside it (default random-init; '' for none)",
    )
    parser.add_argument("--command", default=None, help="the command that wrote --ledger")
    parser.add_argument(
        "--notes",
        default=None,
        help="markdown file for the card's notes (how it was made, what the table means); "
        "without a checkpoint it replaces the notes of the card of --name",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing release")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script; a user mistake is one line on stderr and exit status 2."""
    from molssl.contrastive.config import ConfigError
    from molssl.contrastive.io.checkpoint import CheckpointError
    from molssl.models.shipped import ModelCardError, pretrained_dir

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if (args.ledger is None) != (args.method is None):
            raise ConfigError("give --ledger DIR and --method LABEL together")
        if args.checkpoint is None and args.ledger is None and args.notes is None:
            raise ConfigError(
                "give a checkpoint to release, or --ledger and --method to paste a "
                "benchmark table (or --notes FILE) into the card of --name"
            )
        notes = None
        if args.notes is not None:
            if not Path(args.notes).is_file():
                raise FileNotFoundError(
                    f"--notes {args.notes} does not exist; give a markdown file"
                )
            notes = Path(args.notes).read_text(encoding="utf-8-sig")
        bench = None
        if args.ledger is not None:
            bench = ledger_benchmark(
                args.ledger, args.method, baseline=args.baseline or None, command=args.command
            )
        out = Path(args.out) if args.out else pretrained_dir()
        if args.checkpoint is None:
            from molssl.models.release import set_benchmark

            card = set_benchmark(out / f"{args.name}.md", bench, notes=notes)
            what = [f"benchmark table of {args.method} from {args.ledger}"] if bench else []
            what += [f"notes from {args.notes}"] if notes is not None else []
            print(f"{' and '.join(what)} written to {card}")
            return 0
        from molssl.models.release import release_encoder

        done = release_encoder(
            args.checkpoint,
            args.name,
            out,
            half=not args.float32,
            corpus=args.corpus,
            machine=args.machine,
            wall_time_s=args.wall_time_s,
            benchmark=bench,
            notes=notes,
            overwrite=args.overwrite,
        )
    except (
        ConfigError,
        CheckpointError,
        ModelCardError,
        FileNotFoundError,
        FileExistsError,
    ) as err:
        print(f"release_encoder.py: error: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {done.weights} ({done.size / 1e6:.1f} MB, SHA-256 {done.sha256}) and its card "
        f"{done.card}; load it as molssl:{args.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
