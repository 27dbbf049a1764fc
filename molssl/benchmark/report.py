"""``summary.md`` and ``summary.png`` of a benchmark's ``results.csv``."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molssl.benchmark.stats import (
    METRIC_LABELS,
    extra_summary,
    method_averages,
    paired_tests,
    summarize,
    wall_times,
)
from molssl.contrastive.io.atomic import atomic_path, write_text_atomic
from molssl.metrics import get_metric

logger = logging.getLogger(__name__)


def _fmt(mean: float, std: float, n: int) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    spread = "" if std is None or math.isnan(std) else f" ± {std:.3f}"
    return f"{mean:.3f}{spread} (n={n})"


def _direction(metric: str) -> str:
    return "↑" if get_metric(metric).higher_is_better else "↓"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _main_table(summary: pd.DataFrame, methods: list[str]) -> list[str]:
    rows = []
    for task, group in summary.groupby("task", sort=False):
        metric = str(group["metric"].iloc[0])
        by_method = group.set_index("method")
        means = by_method["mean"].dropna()
        best = None
        if len(means):
            best = means.idxmax() if get_metric(metric).higher_is_better else means.idxmin()
        cells = []
        for method in methods:
            if method not in by_method.index:
                cells.append("-")
                continue
            r = by_method.loc[method]
            text = _fmt(float(r["mean"]), float(r["std"]), int(r["n"]))
            cells.append(f"**{text}**" if method == best and len(means) > 1 else text)
        rows.append([task, f"{METRIC_LABELS.get(metric, metric)} {_direction(metric)}", *cells])
    return _table(["task", "metric", *methods], rows)


def format_summary(ledger: pd.DataFrame, title: str = "Benchmark summary") -> str:
    """The Markdown summary: per-task table, further metrics (PRC-AUC), per-method averages,
    paired tests, failures."""
    summary = summarize(ledger)
    methods = list(dict.fromkeys(summary["method"])) if not summary.empty else []
    lines = [f"# {title}", ""]
    lines += ["Test metric, mean ± sample std over seeds (n = seeds); best mean in bold.", ""]
    lines += _main_table(summary, methods) if methods else ["No finished cells yet."]
    extra = extra_summary(ledger)
    if not extra.empty:
        lines += [
            "",
            "## Further metrics",
            "",
            "PRC-AUC (precision-recall curve, trapezoidal, as MoleculeNet reports it) for "
            "the heavily imbalanced tasks; its chance level is the positive rate, not 0.5.",
            "",
        ]
        lines += _main_table(extra, [m for m in methods if m in set(extra["method"])])
    averages = method_averages(summary)
    if not averages.empty:
        lines += [
            "",
            "## Per-method averages",
            "",
            "Mean of the task means: ROC-AUC over classification tasks, RMSE / MAE over "
            "regression tasks; the last two columns average only the tasks every method "
            "of that metric has finished, which is the fair comparison while some cells "
            "are missing.",
            "",
        ]
        rows = [
            [
                r.method,
                f"{METRIC_LABELS.get(r.metric, r.metric)} {_direction(r.metric)}",
                f"{r.mean:.3f}",
                r.tasks,
                "-" if math.isnan(r.shared_mean) else f"{r.shared_mean:.3f}",
                r.shared_tasks,
            ]
            for r in averages.itertuples()
        ]
        lines += _table(
            ["method", "metric", "average", "tasks", "shared-task average", "shared tasks"], rows
        )
    tests = paired_tests(ledger)
    if not tests.empty:
        lines += [
            "",
            "## Paired comparisons",
            "",
            "Paired t-test over the seeds both methods ran (scipy.stats.ttest_rel); "
            "diff = mean A - mean B; p is two-sided.",
            "",
        ]
        rows = [
            [
                r.task,
                r.method_a,
                r.method_b,
                r.n,
                f"{r.diff:+.3f}",
                "-" if math.isnan(r.t) else f"{r.t:.2f}",
                "-" if math.isnan(r.p) else f"{r.p:.3g}",
                (r.method_a if r.a_better else r.method_b) if r.diff != 0 else "tie",
            ]
            for r in tests.itertuples()
        ]
        lines += _table(["task", "A", "B", "seeds", "diff", "t", "p", "better"], rows)
    lines += _wall_time_table(ledger, methods)
    latest = ledger.drop_duplicates(["task", "method", "seed"], keep="last")
    failed = latest[latest["status"] == "failed"]
    if not failed.empty:
        lines += ["", "## Failed cells", ""]
        lines += _table(
            ["task", "method", "seed", "error"],
            [
                [r.task, r.method, r.seed, str(r.error).replace("|", "/")]
                for r in failed.itertuples()
            ],
        )
    return "\n".join(lines) + "\n"


def _wall_time_table(ledger: pd.DataFrame, methods: list[str]) -> list[str]:
    times = wall_times(ledger)
    if times.empty:
        return []
    lines = [
        "",
        "## Wall time",
        "",
        "Seconds per finished cell (mean over its seeds) as each cell recorded it, on the "
        "machine that ran it (`protocol.json` lists the runs' hosts); the last row sums every "
        "cell, in minutes.",
        "",
    ]
    rows = []
    for task, group in times.groupby("task", sort=False):
        by_method = group.set_index("method")
        rows.append(
            [task]
            + [
                f"{by_method.loc[m, 'seconds'] / by_method.loc[m, 'cells']:.0f}"
                if m in by_method.index
                else "-"
                for m in methods
            ]
        )
    totals = times.groupby("method", sort=False)["seconds"].sum()
    rows.append(["total (min)"] + [f"{totals.get(m, 0.0) / 60:.1f}" for m in methods])
    return lines + _table(["task", *methods], rows)


def plot_summary(ledger: pd.DataFrame, path: str | Path) -> Path | None:
    """Per-task bars (mean ± std over seeds), methods side by side, one panel per metric.

    Uses Matplotlib's Agg canvas without touching pyplot's global state.

    Returns:
        ``path``, or ``None`` when there is nothing to plot or Matplotlib is not installed.
    """
    summary = summarize(ledger)
    if summary.empty:
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed; summary.png skipped (pip install matplotlib)")
        return None
    metrics = list(dict.fromkeys(summary["metric"]))
    methods = list(dict.fromkeys(summary["method"]))
    widths = [
        max(3.0, 1.1 * summary[summary["metric"] == m]["task"].nunique() + 1.5) for m in metrics
    ]
    fig = Figure(figsize=(sum(widths) + 1.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(metrics), width_ratios=widths, squeeze=False)[0]
    colors = [f"C{i % 10}" for i in range(len(methods))]
    bar = 0.8 / len(methods)
    for ax, metric in zip(axes, metrics, strict=True):
        part = summary[summary["metric"] == metric]
        tasks = list(dict.fromkeys(part["task"]))
        for k, method in enumerate(methods):
            rows = part[part["method"] == method].set_index("task").reindex(tasks)
            x = np.arange(len(tasks)) + (k - (len(methods) - 1) / 2) * bar
            ax.bar(
                x,
                rows["mean"],
                bar,
                yerr=rows["std"].fillna(0),
                capsize=3,
                color=colors[k],
                label=method,
            )
        ax.set_xticks(np.arange(len(tasks)), tasks, rotation=30, ha="right")
        ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} ({_direction(metric)} better)")
        if metric == "roc_auc":
            low = np.nanmin(part["mean"] - part["std"].fillna(0))
            ax.set_ylim(max(0.0, min(0.5, low - 0.05)), 1.0)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(methods), 5))
    fig.suptitle("Test metric per task (mean ± std over seeds)")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
    return path


def write_report(ledger: pd.DataFrame, out_dir: str | Path) -> tuple[Path, Path | None]:
    """Write ``summary.md`` and ``summary.png`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    md = out / "summary.md"
    write_text_atomic(md, format_summary(ledger))
    png = plot_summary(ledger, out / "summary.png")
    return md, png
