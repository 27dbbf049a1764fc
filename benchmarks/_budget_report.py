"""The report of ``benchmarks/budget_curve.py``: objective x budget -> downstream averages.

One row per objective (the label stem, e.g. ``imolclr+descriptors@0.5_cosine``), budget and
metric family: the average ROC-AUC over the classification tasks or the average RMSE over the
regression tasks, with paired t-tests (:func:`molssl.benchmark.stats.paired_tests`, over seeds)
of the per-seed task average against random init (``budget-0``) and against ECFP + random
forest (``ecfp-rf``), where the ledger, or a reference ledger of the same protocol, has its
cells. Imported by ``budget_curve.py``; not a script.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

RANDOM = "budget-0"
ECFP = "ecfp-rf"
COLUMNS = [
    "objective",
    "passes",
    "metric",
    "average",
    "tasks",
    "seeds",
    "ecfp_rf",
    "diff_random",
    "p_random",
    "diff_ecfp_rf",
    "p_ecfp_rf",
]


def split_label(label: str) -> tuple[str, int] | None:
    """``(stem, passes)`` of a pretrained method's label ``STEM-PASSES`` whose stem names
    registered objectives; None for any other method (``budget-0``, ``ecfp-rf``, ...)."""
    from molssl.objectives import OBJECTIVES

    stem, _, passes = label.rpartition("-")
    spec = stem.split("_")[0]
    terms = [term.partition("@")[0] for term in spec.split("+")]
    if not passes.isdigit() or not all(term in OBJECTIVES for term in terms):
        return None
    return stem, int(passes)


def reference_rows(
    ledger_dir: Path, reference_dir: Path | None, tasks: list[str], seeds: list[int]
) -> tuple[pd.DataFrame | None, str]:
    """The ``ecfp-rf`` rows to test against, and where they come from.

    This ledger's own rows when it has every task x seed; else those of ``reference_dir``
    when its ``protocol.json``, restricted to ``tasks``, equals this ledger's (datasets and
    their hashes, split hashes per seed, molecule caps, profile, fine-tuning settings: see
    :func:`molssl.benchmark.protocol.compare_protocols`) and its forest has the profile's
    trees; else None (the caller runs the cells into this ledger).

    Returns:
        ``(rows or None, one line saying why)``.
    """
    from molssl.benchmark.ledger import latest_ok, read_ledger
    from molssl.benchmark.protocol import compare_protocols, read_protocol
    from molssl.data.registry import get_dataset_spec
    from molssl.finetune.profiles import get_profile

    names = [get_dataset_spec(task).name for task in tasks]

    def complete(folder: Path) -> pd.DataFrame | None:
        if not (folder / "results.csv").is_file():
            return None
        ok = latest_ok(read_ledger(folder / "results.csv"))
        ok = ok[(ok["method"] == ECFP) & ok["task"].isin(names) & ok["seed"].isin(seeds)]
        have = {(str(r.task), int(r.seed)) for r in ok.itertuples(index=False)}
        return ok if all((t, s) in have for t in names for s in seeds) else None

    own = complete(ledger_dir)
    if own is not None:
        return own, f"ECFP+RF: this ledger's cells ({ledger_dir})"
    if reference_dir is None or not (reference_dir / "protocol.json").is_file():
        return None, "ECFP+RF: no reference ledger; its cells run into this ledger"
    mine, theirs = read_protocol(ledger_dir), read_protocol(reference_dir)

    def restrict(record: dict) -> dict:
        tasks = record.get("tasks", {})
        return {**record, "tasks": {k: v for k, v in tasks.items() if k in names}}

    problem = compare_protocols(restrict(mine), restrict(theirs))
    forest = {
        k: theirs.get("methods", {}).get(ECFP, {}).get(k) for k in ("rf_estimators", "class_weight")
    }
    wanted = {
        "rf_estimators": get_profile(str(mine.get("profile"))).rf_estimators,
        "class_weight": "balanced",
    }
    if problem is None and forest != wanted:
        problem = f"methods.ecfp-rf: {forest} != {wanted}"
    if problem is not None:
        return None, (
            f"ECFP+RF: {reference_dir} has another protocol ({problem}); its cells "
            "run into this ledger"
        )
    rows = complete(reference_dir)
    if rows is None:
        return None, f"ECFP+RF: {reference_dir} lacks some cells; they run into this ledger"
    return rows, f"ECFP+RF: the cells of {reference_dir} (same protocol on these tasks)"


def _seed_average(ok: pd.DataFrame, method: str, tasks: set[str]) -> pd.Series:
    """Per seed, the mean over ``tasks`` of ``method`` (seeds that have all of them)."""
    part = ok[(ok["method"] == method) & ok["task"].isin(tasks)]
    wide = part.pivot_table(index="seed", columns="task", values="value", aggfunc="last")
    return wide.dropna().mean(axis=1) if len(wide.columns) == len(tasks) else pd.Series(dtype=float)


def _versus(ok: pd.DataFrame, label: str, other: str, tasks: set[str], metric: str):
    """``(diff, p)`` of the paired t-test of the per-seed averages of ``label`` and ``other``."""
    from molssl.benchmark.stats import paired_tests

    rows = []
    for method in (label, other):
        for seed, value in _seed_average(ok, method, tasks).items():
            rows.append(
                {
                    "task": "average",
                    "method": method,
                    "seed": seed,
                    "metric": metric,
                    "value": value,
                    "status": "ok",
                }
            )
    if label == other or not rows:
        return math.nan, math.nan
    test = paired_tests(pd.DataFrame(rows), [label, other])
    if test.empty or not test["n"].iloc[0]:
        return math.nan, math.nan
    return float(test["diff"].iloc[0]), float(test["p"].iloc[0])


def curve_table(ledger_dir: Path, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Average ROC-AUC (classification) and RMSE (regression) per objective and budget, for
    every objective and budget in the ledger (not only this call's), so a partial call
    (``--objectives molclr``) never shrinks the table.

    Each objective averages the same tasks at every budget, budget 0 included: the tasks that
    all of its budgets have finished (BYOL and MoCo, run on four tasks, average those four at
    budget 0 too), so a curve never moves because a task joined it. ``ecfp_rf`` is the ECFP+RF
    average over the same tasks; ``diff_*``/``p_*``: the paired t-test over seeds of the
    per-seed average against ``budget-0`` and ``ecfp-rf`` (NaN where either lacks a cell).

    Args:
        ledger_dir: The folder of ``results.csv``.
        reference: ``ecfp-rf`` rows of another ledger of the same protocol
            (:func:`reference_rows`), used where this ledger has none.
    """
    from molssl.benchmark.ledger import latest_ok, read_ledger
    from molssl.benchmark.stats import summarize

    ledger = read_ledger(ledger_dir / "results.csv")
    if reference is not None and not (ledger["method"] == ECFP).any():
        ledger = pd.concat([ledger, reference[ledger.columns.intersection(reference.columns)]])
    summary, ok = summarize(ledger), latest_ok(ledger)
    budgets: dict[str, dict[int, str]] = {}
    for label in dict.fromkeys(summary["method"]):
        parsed = split_label(str(label))
        if parsed is not None:
            budgets.setdefault(parsed[0], {})[parsed[1]] = str(label)
    rows = []
    for objective, labels in budgets.items():
        if RANDOM in set(summary["method"]):
            labels = {0: RANDOM, **labels}
        for metric in ("roc_auc", "rmse"):
            part = summary[(summary["metric"] == metric) & summary["mean"].notna()]
            tasks = [set(part[part["method"] == label]["task"]) for label in labels.values()]
            shared = set.intersection(*tasks) if tasks else set()
            if not shared:
                continue
            ecfp = part[(part["method"] == ECFP) & part["task"].isin(shared)]
            ecfp_avg = float(ecfp["mean"].mean()) if len(ecfp) == len(shared) else math.nan
            for passes, label in sorted(labels.items()):
                mine = part[(part["method"] == label) & part["task"].isin(shared)]
                seeds = ok[(ok["method"] == label) & ok["task"].isin(shared)]["seed"].nunique()
                d_rand, p_rand = _versus(ok, label, RANDOM, shared, metric)
                d_ecfp, p_ecfp = _versus(ok, label, ECFP, shared, metric)
                rows.append(
                    {
                        "objective": objective,
                        "passes": passes,
                        "metric": metric,
                        "average": float(mine["mean"].mean()),
                        "tasks": len(shared),
                        "seeds": int(seeds),
                        "ecfp_rf": ecfp_avg,
                        "diff_random": d_rand,
                        "p_random": p_rand,
                        "diff_ecfp_rf": d_ecfp,
                        "p_ecfp_rf": p_ecfp,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["metric", "objective", "passes"])


def task_tests(ledger_dir: Path, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per task, the paired t-test (over seeds) of every pretrained label against ``budget-0``
    and ``ecfp-rf`` (:func:`molssl.benchmark.stats.paired_tests`)."""
    from molssl.benchmark.ledger import read_ledger
    from molssl.benchmark.stats import paired_tests

    ledger = read_ledger(ledger_dir / "results.csv")
    if reference is not None and not (ledger["method"] == ECFP).any():
        ledger = pd.concat([ledger, reference[ledger.columns.intersection(reference.columns)]])
    labels = [m for m in dict.fromkeys(ledger["method"].astype(str)) if split_label(m)]
    tests = paired_tests(ledger, [*labels, RANDOM, ECFP])
    return tests[tests["method_b"].isin([RANDOM, ECFP]) & tests["method_a"].isin(labels)]


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown (differences: the label minus the reference; p: paired t-test)."""
    fmt = lambda v, spec: "–" if pd.isna(v) else format(v, spec)  # noqa: E731
    header = (
        "| objective | molecule-passes | metric | average | tasks | seeds | ECFP+RF | "
        "Δ random init (p) | Δ ECFP+RF (p) |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    return header + "".join(
        f"| {r.objective} | {r.passes:,} | {r.metric} | {r.average:.3f} | {r.tasks} | {r.seeds} |"
        f" {fmt(r.ecfp_rf, '.3f')} | {fmt(r.diff_random, '+.3f')} ({fmt(r.p_random, '.2g')}) |"
        f" {fmt(r.diff_ecfp_rf, '+.3f')} ({fmt(r.p_ecfp_rf, '.2g')}) |\n"
        for r in table.itertuples()
    )


def plot(table: pd.DataFrame, path: Path) -> None:
    """Both metric families against the budget (log axis), one line per objective; ECFP+RF
    dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, metric, label in zip(
        axes,
        ("roc_auc", "rmse"),
        ("average ROC-AUC, classification tasks ↑", "average RMSE, regression tasks ↓"),
        strict=True,
    ):
        part = table[table["metric"] == metric]
        for objective, rows in part.groupby("objective"):
            rows = rows.sort_values("passes")
            tasks = int(rows["tasks"].iloc[0])  # the same at every budget of an objective
            ax.plot(
                rows["passes"].clip(lower=1),
                rows["average"],
                "o-",
                label=f"{objective} ({tasks} task{'s' * (tasks != 1)})",
            )
        for (value, tasks), _ in part.dropna(subset=["ecfp_rf"]).groupby(["ecfp_rf", "tasks"]):
            ax.axhline(
                value,
                color="grey",
                linestyle="--",
                linewidth=1,
                label=f"ECFP+RF ({tasks} task{'s' * (tasks != 1)})",
            )
        ax.set_xscale("log")
        ax.set_xlabel("pretraining molecule-passes (budget 0 plotted at 1)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)
