"""Hu et al. (2020)'s fine-tuning protocol, so our numbers stand beside the literature's.

"Strategies for Pre-training Graph Neural Networks" (Hu et al., ICLR 2020) fine-tunes with
``chem/finetune.py``: 100 epochs, Adam lr 1e-3, no weight decay, batch 32, dropout 0.5, mean
pooling, a linear head, one multi-task model per dataset (masked BCE), the deterministic
scaffold split 80/10/10, every molecule: the ``hu2020`` profile of ``molssl finetune``. This
script runs it, seeds 0, 1, 2, for:

- ``gcn-scratch``: Hu et al.'s GCN (``gcn-norm``, 5 layers, 300 hidden, no projection head,
  mean pooling) from random weights;
- ``gcn-contextpred`` / ``gcn-supervised-contextpred``: their released GCNs
  (``hu2020-gcn:checkpoints/hu2020_gcn_contextpred.pth`` and
  ``..._supervised_contextpred.pth`` of the shared data);
- ``gin-scratch``: our GIN with Hu et al.'s sizes (5 layers, 300 hidden, mean pooling, the
  linear head on the pooled 300-dim representation);
- ``imolclr-gin-moses-1m``: our pretrained GIN released in the package
  (``molssl:imolclr-gin-moses-1m``: 5 layers, 300 hidden, mean pooling, its 512-dim
  ``feat_lin`` output under the linear head; its architecture is its own);
- ``ecfp-rf``: ECFP4 + class-balanced random forest (500 trees);
- ``--methods-extra LABEL=WEIGHTS`` (repeatable): any other weights string, e.g.
  ``ours=ckpt:PATH``.

Tasks run smallest first: BBBP, BACE, ClinTox, SIDER, Tox21, ToxCast; HIV and MUV (41k and
93k molecules) only when named in ``--tasks``. One suite call covers every method: the
encoder settings (``finetune.encoder``) shape the two random encoders and are ignored by the
checkpoints, which fix their own architecture; ``protocol.json`` records each method's
encoder as built. The ledger is ``benchmarks/ledgers/hu2020`` (``results.csv`` +
``protocol.json``, committed); a rerun skips finished cells, and several processes may share
it. The tables go to ``hu2020_table.md`` beside it: per dataset and method the test ROC-AUC
(x100) mean +- std over seeds at the best validation epoch (``value``), then at the last epoch
(``value_last``), the average over the tasks run per method, Hu et al.'s published figures,
and which cells are missing.

Usage (from the repository root)::

    python benchmarks/hu2020.py --threads 1
    python benchmarks/hu2020.py --tasks bbbp,bace --methods gcn-scratch,ecfp-rf
    python benchmarks/hu2020.py --tasks bbbp,bace,clintox,sider,tox21,toxcast,hiv,muv
    python benchmarks/hu2020.py --methods-extra ours=molssl:NAME
    python benchmarks/hu2020.py --table-only          # the table of the ledger so far
    python benchmarks/hu2020.py --smoke               # 1 task, 1 seed, 1 epoch, into /tmp
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from molssl.benchmark.ledger import latest_ok, read_ledger
from molssl.benchmark.runner import BenchmarkConfig, BenchmarkResult, benchmark

try:
    from benchmarks._shared import checkpoints_dir, moleculenet_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/hu2020.py
    from _shared import checkpoints_dir, moleculenet_dir, run

TASKS = ["bbbp", "bace", "clintox", "sider", "tox21", "toxcast"]
"""The default tasks in run order (smallest first)."""
LARGE_TASKS = ["hiv", "muv"]
"""Hu et al.'s other two datasets, run only when named in ``--tasks``."""
DISPLAY_ORDER = ["BBBP", "Tox21", "ToxCast", "SIDER", "ClinTox", "MUV", "HIV", "BACE"]
"""Hu et al.'s column order."""
HU_ENCODER: dict[str, Any] = {
    "num_layers": 5,
    "hidden_channels": 300,
    "out_channels": 300,
    "proj_dim": 300,
    "head": False,
    "pooling": "mean",
}
"""Hu et al.'s encoder sizes: 5 layers, 300 hidden, mean pooling, no ``feat_lin`` or projection
(the linear head reads the pooled 300-dim representation)."""
METHODS: dict[str, str] = {
    "gcn-scratch": "random:gcn-norm",
    "gcn-contextpred": "hu2020-gcn:{checkpoints}/hu2020_gcn_contextpred.pth",
    "gcn-supervised-contextpred": "hu2020-gcn:{checkpoints}/hu2020_gcn_supervised_contextpred.pth",
    "gin-scratch": "random:gin",
    "imolclr-gin-moses-1m": "molssl:imolclr-gin-moses-1m",
    "ecfp-rf": "ecfp-rf",
}
"""Method label -> weights string (``{checkpoints}``: the shared data's checkpoint folder)."""
PUBLISHED_AVERAGE: dict[str, float] = {
    "gcn-scratch": 68.9,
    "gcn-supervised-contextpred": 72.2,
    "gin-scratch": 67.0,
    "gin-supervised-contextpred": 74.2,
}
"""Hu et al. (2020): average test ROC-AUC x100 over the 8 datasets, best validation epoch,
seeds 0-9 (architecture comparison, no pretraining and supervised + context prediction)."""
PUBLISHED_GIN_SCRATCH: dict[str, float] = {
    "BBBP": 65.8,
    "Tox21": 74.0,
    "ToxCast": 63.4,
    "SIDER": 57.3,
    "ClinTox": 58.0,
    "MUV": 71.8,
    "HIV": 75.3,
    "BACE": 70.1,
}
"""Hu et al. (2020), GIN without pretraining, per dataset (as later papers quote the paper)."""
LEDGER = "benchmarks/ledgers/hu2020"
SMOKE_LEDGER = "/tmp/hu2020_smoke"
TABLE = "hu2020_table.md"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``: ``sys.argv[1:]`` when ``None``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tasks",
        default=",".join(TASKS),
        help=f"comma-separated, in run order (default: {','.join(TASKS)}; "
        f"Hu et al.'s 8 add {','.join(LARGE_TASKS)})",
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"subset of {','.join(METHODS)}"
    )
    parser.add_argument(
        "--methods-extra",
        action="append",
        default=[],
        metavar="LABEL=WEIGHTS",
        help="another method, e.g. ours=molssl:NAME or ours=ckpt:PATH (repeatable)",
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=None, help=f"ledger folder (default: {LEDGER})")
    parser.add_argument("--data-dir", default=None, help="default: <shared data>/moleculenet")
    parser.add_argument(
        "--keep-cells",
        action="store_true",
        help="keep each cell's run folder under OUT/cells/ and resume an "
        "interrupted cell from its last epoch (ToxCast's predictions are "
        "megabytes: do not commit those)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="write the table from the ledger as it stands, run nothing (safe "
        "while a run is going on)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"1 task, 1 seed, 1 epoch, 300 molecules, 5 trees into {SMOKE_LEDGER}",
    )
    return parser.parse_args(argv)


def split_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def method_specs(args: argparse.Namespace) -> dict[str, str]:
    """Label -> weights string of the chosen methods, then the ``--methods-extra`` ones.

    Raises:
        SystemExit: An unknown method, or an extra method that is not ``LABEL=WEIGHTS`` or
            reuses a label.
    """
    specs: dict[str, str] = {}
    for label in split_list(args.methods):
        if label not in METHODS:
            raise SystemExit(
                f"hu2020.py: unknown method {label!r} in --methods; choose from "
                f"{', '.join(METHODS)} (others: --methods-extra LABEL=WEIGHTS)"
            )
        spec = METHODS[label]
        if "{checkpoints}" in spec:
            spec = spec.format(checkpoints=checkpoints_dir())
        specs[label] = spec
    for item in args.methods_extra:
        label, sep, spec = item.partition("=")
        label, spec = label.strip(), spec.strip()
        if not sep or not label or not spec or ":" in label:
            raise SystemExit(
                f"hu2020.py: --methods-extra {item!r} must be LABEL=WEIGHTS, e.g. ours=molssl:NAME"
            )
        if label in specs:
            raise SystemExit(
                f"hu2020.py: --methods-extra label {label!r} is already a method; "
                "choose another label"
            )
        specs[label] = spec
    if not specs:
        raise SystemExit("hu2020.py: no method chosen (--methods / --methods-extra)")
    return specs


def suite_config(
    args: argparse.Namespace,
    *,
    encoder: Mapping[str, Any] | None = None,
    finetune: Mapping[str, Any] | None = None,
) -> BenchmarkConfig:
    """The benchmark suite the arguments ask for.

    Args:
        args: :func:`parse_args`'s namespace.
        encoder: Encoder settings of the random encoders (default :data:`HU_ENCODER`; tests
            pass tiny ones).
        finetune: Further fine-tuning overrides (tests: ``{"max_molecules": 200}``).
    """
    tasks, seeds = split_list(args.tasks), [int(s) for s in split_list(args.seeds)]
    overrides: dict[str, Any] = {"encoder": dict(HU_ENCODER if encoder is None else encoder)}
    extra: dict[str, Any] = {}
    out = args.out or LEDGER
    if args.smoke:
        out = args.out or SMOKE_LEDGER
        tasks, seeds = tasks[:1], seeds[:1]
        overrides.update(epochs=1, max_molecules=300)
        extra["rf_estimators"] = 5
    overrides.update(finetune or {})
    return BenchmarkConfig(
        tasks=tasks,
        methods=[f"{label}={spec}" for label, spec in method_specs(args).items()],
        seeds=seeds,
        profile="hu2020",
        out_dir=out,
        data_dir=args.data_dir or str(moleculenet_dir()),
        device=args.device,
        finetune=overrides,
        keep_cells=args.keep_cells,
        **extra,
    )


def _cell(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    std = f" ± {100 * values.std(ddof=1):.1f}" if len(values) > 1 else ""
    return f"{100 * values.mean():.1f}{std}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _values(done: pd.DataFrame, task: str, method: str, column: str) -> tuple[pd.Series, bool]:
    """A cell's values of ``column`` over seeds (ECFP+RF, without epochs: ``value``) and whether
    every row has one."""
    part = done[(done["task"] == task) & (done["method"] == method)]
    values = pd.to_numeric(part[column], errors="coerce")
    no_epochs = pd.to_numeric(part["epochs"], errors="coerce") == 0
    values = values.where(~no_epochs, part["value"])
    return values.dropna(), bool(values.notna().all())


def task_averages(
    done: pd.DataFrame, column: str, tasks: list[str], methods: list[str], seeds: list[int]
) -> dict[str, float]:
    """Per method: the mean over ``tasks`` of the per-task means (x100) of ``column``; NaN unless
    every task has a value at every seed."""
    out = {}
    for method in methods:
        means = []
        for task in tasks:
            values, whole = _values(done, task, method, column)
            have = set(done[(done["task"] == task) & (done["method"] == method)]["seed"])
            complete = whole and {int(s) for s in have} >= set(seeds)
            means.append(100 * values.mean() if complete else math.nan)
        out[method] = sum(means) / len(means) if means else math.nan
    return out


def _average_text(value: float) -> str:
    return "incomplete" if math.isnan(value) else f"{value:.1f}"


def _value_table(
    done: pd.DataFrame, column: str, tasks: list[str], methods: list[str], seeds: list[int]
) -> list[str]:
    """Per dataset and method: mean ± std x100 of ``column``; per method: the task average
    (:func:`task_averages`); last column Hu et al.'s GIN without pretraining."""
    lines = [
        _row(["dataset", *methods, "Hu et al. GIN scratch"]),
        _row(["---"] * (len(methods) + 2)),
    ]
    for task in tasks:
        cells = [_cell(_values(done, task, method, column)[0]) for method in methods]
        published = PUBLISHED_GIN_SCRATCH.get(task)
        lines.append(_row([task, *cells, f"{published:.1f}" if published else "-"]))
    average = task_averages(done, column, tasks, methods, seeds)
    published = [PUBLISHED_GIN_SCRATCH[t] for t in tasks if t in PUBLISHED_GIN_SCRATCH]
    hu_avg = f"{sum(published) / len(published):.1f}" if len(published) == len(tasks) else "-"
    label = f"**average ({len(tasks)} task{'s' * (len(tasks) != 1)})**"
    lines.append(_row([label, *map(_average_text, average.values()), hu_avg]))
    return lines


def _averages_table(
    done: pd.DataFrame, tasks: list[str], methods: list[str], seeds: list[int]
) -> list[str]:
    """Per method our averages (best validation, last epoch) beside Hu et al.'s 8-task one."""
    best = task_averages(done, "value", tasks, methods, seeds)
    last = task_averages(done, "value_last", tasks, methods, seeds)
    n = f"{len(tasks)} task{'s' * (len(tasks) != 1)}"
    lines = [
        _row(
            [
                "method",
                f"ours, best validation ({n})",
                f"ours, last epoch ({n})",
                "Hu et al. 2020 (8 tasks, best validation)",
            ]
        ),
        _row(["---"] * 4),
    ]
    for method in methods:
        published = PUBLISHED_AVERAGE.get(method)
        lines.append(
            _row(
                [
                    method,
                    _average_text(best[method]),
                    _average_text(last[method]),
                    f"{published:.1f}" if published else "-",
                ]
            )
        )
    for method, published in PUBLISHED_AVERAGE.items():
        if method not in methods:
            lines.append(_row([method, "not run", "not run", f"{published:.1f}"]))
    return lines


def missing_cells(
    ledger: pd.DataFrame, tasks: list[str], methods: list[str], seeds: list[int]
) -> list[str]:
    """One line per (task, method) short of seeds: which seeds, and the last error if failed."""
    done = latest_ok(ledger)
    lines = []
    for task in tasks:
        for method in methods:
            have = set(
                done[(done["task"] == task) & (done["method"] == method)]["seed"].astype(int)
            )
            lacking = [s for s in seeds if s not in have]
            if not lacking:
                continue
            failed = ledger[
                (ledger["task"] == task)
                & (ledger["method"] == method)
                & (ledger["status"] == "failed")
            ]
            why = f" (last error: {failed.iloc[-1]['error']})" if len(failed) else ""
            lines.append(f"- {task} / {method}: seeds {', '.join(map(str, lacking))} missing{why}")
    return lines


def write_table(
    ledger: pd.DataFrame, out: str | Path, tasks: list[str], methods: list[str], seeds: list[int]
) -> Path:
    """Write ``OUT/hu2020_table.md``: the best-validation and last-epoch tables, the averages
    beside Hu et al.'s, and the missing cells.

    Args:
        ledger: ``results.csv`` as read by :func:`~molssl.benchmark.ledger.read_ledger`.
        out: The ledger folder.
        tasks: Dataset display names (``"BBBP"``) in the suite.
        methods: Method labels in the suite.
        seeds: Seeds every cell should have.
    """
    done = latest_ok(ledger)
    shown = [t for t in DISPLAY_ORDER if t in tasks] + [t for t in tasks if t not in DISPLAY_ORDER]
    n = len(shown)
    lines = [
        "# Hu et al. (2020)'s fine-tuning protocol",
        "",
        f"Test ROC-AUC x100, mean ± std over seed{'s' * (len(seeds) != 1)} "
        f"{', '.join(map(str, seeds))}; profile `hu2020` (100 epochs, Adam 1e-3, batch 32, "
        "dropout 0.5, mean pooling, linear head, one multi-task model, scaffold split 80/10/10, "
        "every molecule). The average is over the per-task means and needs every seed of every "
        "task. The last column is Hu et al.'s GIN without pretraining (seeds 0-9). ECFP+RF "
        "has no epochs: its one value is in both tables.",
        "",
        "## Test at the best validation epoch (`value`)",
        "",
        *_value_table(done, "value", shown, methods, seeds),
        "",
        "## Test at the last epoch (`value_last`)",
        "",
        *_value_table(done, "value_last", shown, methods, seeds),
        "",
        "## Averages beside Hu et al.'s",
        "",
        *_averages_table(done, shown, methods, seeds),
        "",
        f"Our averages are over {n} dataset{'s' * (n != 1)}"
        + (
            "; Hu et al.'s are over 8 (with HIV and MUV), so they compare only roughly (their "
            "GIN-scratch figures over our datasets are the average in the last column above)."
            if n != 8
            else "."
        )
        + " No per-dataset GCN figures of the paper were at hand.",
        "",
        "## Missing cells",
        "",
        *(missing_cells(ledger, shown, methods, seeds) or ["None: every cell has a result."]),
        "",
    ]
    path = Path(out) / TABLE
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_suite(
    args: argparse.Namespace,
    *,
    encoder: Mapping[str, Any] | None = None,
    finetune: Mapping[str, Any] | None = None,
) -> tuple[BenchmarkResult, Path]:
    """Run (or resume) the suite, then write its table; see :func:`suite_config` for the hooks.

    Returns:
        The benchmark result and the table's path.
    """
    import torch

    torch.set_num_threads(args.threads)
    cfg = suite_config(args, encoder=encoder, finetune=finetune)
    result = benchmark(cfg)
    return result, suite_table(cfg)


def suite_table(cfg: BenchmarkConfig) -> Path:
    """Write the table of ``cfg``'s tasks, methods and seeds from its ledger as it stands."""
    from molssl.data import get_dataset_spec

    tasks = [get_dataset_spec(t).name for t in cfg.tasks]
    methods = [m.split("=", 1)[0] for m in cfg.methods]
    ledger = read_ledger(Path(cfg.out_dir) / "results.csv")
    return write_table(ledger, cfg.out_dir, tasks, methods, cfg.seeds)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: run the suite, print where the outputs are."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.table_only:
        print(f"table: {suite_table(suite_config(args))}")
        return
    start = time.perf_counter()
    result, table = run_suite(args)
    minutes = (time.perf_counter() - start) / 60
    print(
        f"{result.ran} cells run, {result.skipped} skipped, {result.failed} failed "
        f"in {minutes:.1f} min ({args.threads} torch thread(s), device {args.device})"
    )
    print(f"table: {table}\nrows:  {result.results_csv}")


if __name__ == "__main__":
    run(main)
