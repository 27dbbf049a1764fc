"""Frozen-feature accuracy of every imagessl method on CIFAR-10, and each method's CPU throughput.

For each seed and method: pretrain on (a subset of) CIFAR-10 train for a bounded budget of
optimizer steps (``--max-steps``, optionally also a wall-clock cap ``--budget-minutes``), then
embed a CIFAR-10 train subset (``--probe-train-limit``) and the test set with the frozen encoder
and report linear-probe (standardised features + logistic regression) and kNN (k=200, cosine,
T=0.07) top-1 accuracy, and with ``--protocols linear,knn,finetune`` also the accuracy after
fine-tuning the encoder with a linear head on the probe-train images (``--finetune-epochs``).
Baselines: the same encoder at random initialisation (per seed) and raw pixels (standardised,
flattened; not fine-tuned). Methods: the six of the original comparison and CPC v2, MoCo v2,
BYOL and SwAV (CPC's patch encoder is the same backbone with layer norm). Separately: images/s of
each method's training step (augmentation, forward, backward, Adam step, target update) at
``--throughput-batch`` (default 256) on the CPU, with freed memory kept in the process as the
trainer does on CPU (:func:`molssl.contrastive.training.allocator.keep_freed_memory`;
``--system-malloc`` measures without).

Run it as a module from the repository root (as a script, its file name would shadow the
``imagessl`` package). The run recorded in RESULTS.md (ResNet-18, 30 steps of 128 images per
method, 3 seeds; about an hour on the 2-core CPU box)::

    python -m benchmarks.imagessl --seeds 0,1,2 --batch-size 128 --max-steps 30 \\
        --probe-train-limit 5000 --test-limit 5000 --throughput-steps 0 --threads 2

Smoke run (minutes)::

    python -m benchmarks.imagessl --seeds 0 --max-steps 5 --batch-size 64 --encoder convnet \\
        --train-limit 2000 --probe-train-limit 2000 --test-limit 1000 --throughput-steps 2

Writes ``results.csv`` and ``results.md`` to ``--out`` (default ``runs/bench_imagessl``) and
prints the Markdown table. ``results.csv`` is a ledger: each score is appended as soon as it is
measured, and a rerun with the same ``--out`` skips the cells already there, so an interrupted run
resumes where it stopped (a pretraining run cut short mid-way restarts from its last checkpoint).
``settings.json`` records the settings the ledger was measured with; a rerun with different ones
is refused rather than mixed in.
"""

# ruff: noqa: E402 (the guard below must run before the imagessl imports)
from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run this benchmark from the repository root as: python -m benchmarks.imagessl ...")

import argparse
import json
import logging
import math
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch

from imagessl.config import DataConfig, EncoderConfig, EvalConfig, ImagePretrainConfig
from imagessl.data import load_images
from imagessl.encoders import build_encoder
from imagessl.evaluate import embed, evaluate_features, load_encoder
from imagessl.finetune import finetune_accuracy
from imagessl.pretrain import build_method, pretrain
from imagessl.transforms import Normalize
from molssl.contrastive.io.ledger import ResultsLedger
from molssl.contrastive.training.allocator import keep_freed_memory
from molssl.contrastive.training.seed import seed_everything
from molssl.contrastive.training.trainer import TrainerConfig

METHODS = (
    "simclr",
    "rotation",
    "relpatch",
    "jigsaw",
    "inpainting",
    "colorization",
    "cpc",
    "moco",
    "byol",
    "swav",
)
PROTOCOLS = ("linear", "knn", "finetune")
HEADERS = {"linear": "linear probe", "knn": "kNN (k=200)", "finetune": "fine-tuned"}
FIELDS = ["method", "seed", "protocol", "accuracy", "eval_s", "pretrain_steps", "pretrain_s"]
# Settings that change a score; a ledger measured with other values is not resumed.
RESULT_SETTINGS = (
    "data",
    "encoder",
    "width",
    "max_steps",
    "budget_minutes",
    "batch_size",
    "lr",
    "train_limit",
    "probe_train_limit",
    "test_limit",
    "finetune_epochs",
)


class Ledger:
    """``results.csv`` of scored cells keyed by (method, seed, protocol), on the shared locked
    :class:`~molssl.contrastive.io.ledger.ResultsLedger`; ``settings.json`` guards against mixing
    scores measured with other settings."""

    def __init__(self, out: Path, settings: dict) -> None:
        self.path = out / "results.csv"
        self.ledger = ResultsLedger(self.path, FIELDS, ("method", "seed", "protocol"))
        marker = out / "settings.json"
        if self.path.exists() and marker.exists():
            recorded = json.loads(marker.read_text())
            if recorded != settings:
                changed = sorted(k for k in settings if recorded.get(k) != settings[k])
                sys.exit(
                    f"{self.path} was measured with other settings ({', '.join(changed)}); "
                    "use another --out, or delete the folder to start again"
                )
        marker.write_text(json.dumps(settings, indent=1) + "\n")
        self.rows = [self._typed(row) for row in self.ledger.rows()]
        if self.rows:
            logging.info("resuming: %d scores already in %s", len(self.rows), self.path)

    @staticmethod
    def _typed(row: dict) -> dict:
        return {**row, "seed": int(row["seed"]), "accuracy": float(row["accuracy"])}

    def has(self, method: str, seed: int, protocol: str) -> bool:
        return any(
            (r["method"], r["seed"], r["protocol"]) == (method, seed, protocol) for r in self.rows
        )

    def append(self, row: dict) -> None:
        """Append ``row`` under the ledger's lock; rows other processes added are picked up."""
        self.rows = [self._typed(r) for r in self.ledger.append(row)]


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default="cifar10", help="image source (default cifar10)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--encoder", default="resnet18", help="encoder name (default resnet18)")
    p.add_argument("--width", type=int, default=32, help="convnet width")
    p.add_argument("--max-steps", type=int, default=100, help="pretraining steps per run")
    p.add_argument("--budget-minutes", type=float, default=None, help="wall-clock cap per run")
    p.add_argument("--batch-size", type=int, default=256, help="pretraining batch size")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--train-limit", type=int, default=None, help="pretraining images (all)")
    p.add_argument("--probe-train-limit", type=int, default=10000, help="probe train images")
    p.add_argument("--test-limit", type=int, default=None, help="test images (all 10,000)")
    p.add_argument("--throughput-batch", type=int, default=256)
    p.add_argument("--throughput-encoder", default="resnet18", help="encoder of the speed test")
    p.add_argument("--throughput-only", action="store_true", help="only the speed test")
    p.add_argument("--throughput-steps", type=int, default=3, help="0 skips the throughput test")
    p.add_argument(
        "--system-malloc",
        action="store_true",
        help="speed test with glibc's malloc as is (the trainer keeps freed memory)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--protocols", default="linear,knn", help="of linear, knn, finetune")
    p.add_argument("--finetune-epochs", type=int, default=10, help="epochs of 'finetune'")
    p.add_argument("--skip-baselines", action="store_true")
    p.add_argument("--out", default="runs/bench_imagessl")
    return p.parse_args()


def _todo(ledger: Ledger, name: str, seed: int, args) -> list[str]:
    """The protocols not yet scored for ``name`` at ``seed`` (raw pixels are not fine-tuned)."""
    protocols = [p for p in args.protocol_list if not (name == "raw pixels" and p == "finetune")]
    return [p for p in protocols if not ledger.has(name, seed, p)]


def _score(ledger: Ledger, name: str, seed: int, model, train, test, extra: dict, args) -> None:
    """Score ``model``: an ``(encoder, input_fn)`` pair, or ``(train_x, test_x)`` features."""
    has_encoder = isinstance(model[0], torch.nn.Module)
    feats = None if has_encoder else model
    for protocol in _todo(ledger, name, seed, args):
        start = time.perf_counter()
        cfg = EvalConfig(protocol, finetune_epochs=args.finetune_epochs, seed=max(seed, 0))
        if protocol == "finetune":
            if not has_encoder:
                continue  # raw pixels have no encoder to fine-tune
            acc = finetune_accuracy(
                model[0], model[1], train.images, train.labels, test.images, test.labels, cfg
            )
        else:
            if feats is None:  # embed once for both feature protocols
                feats = (
                    embed(model[0], train.images, model[1]),
                    embed(model[0], test.images, model[1]),
                )
            acc = evaluate_features(feats[0], train.labels, feats[1], test.labels, cfg)
        ledger.append(
            {
                "method": name,
                "seed": seed,
                "protocol": protocol,
                "accuracy": round(acc, 4),
                "eval_s": round(time.perf_counter() - start, 1),
                **extra,
            }
        )
        logging.info("%s seed %d %s accuracy %.4f", name, seed, protocol, acc)


def _budget_callback(minutes: float | None):
    if minutes is None:
        return []
    deadline = time.monotonic() + 60 * minutes

    def stop_when_over(trainer, step: int) -> None:
        if time.monotonic() > deadline:
            trainer.request_stop()

    return [stop_when_over]


def _pretrain_and_score(args, method: str, seed: int, train, test, ledger, out: Path) -> None:
    if not _todo(ledger, method, seed, args):
        return
    n = len(load_images(DataConfig(args.data, limit=args.train_limit), "train"))
    steps_per_epoch = max(1, n // args.batch_size)
    cfg = ImagePretrainConfig(
        method=method,
        data=DataConfig(args.data, limit=args.train_limit),
        encoder=_encoder_config(args.encoder, args.width, method),
        trainer=TrainerConfig(
            epochs=max(1, math.ceil(args.max_steps / steps_per_epoch)),
            max_steps=args.max_steps,
            warmup_epochs=0,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=1e-6,
            seed=seed,
            log_every=10,
            out_dir=str(out / f"{method}_seed{seed}"),
            resume=True,
            progress=False,
        ),
    )
    start = time.perf_counter()
    result = pretrain(cfg, callbacks=_budget_callback(args.budget_minutes))
    seconds = time.perf_counter() - start
    loaded = load_encoder(result.last_checkpoint)
    extra = {"pretrain_steps": result.step, "pretrain_s": round(seconds, 1)}
    _score(ledger, method, seed, (loaded.encoder, loaded.input_fn), train, test, extra, args)


def _encoder_config(name: str, width: int, method: str) -> EncoderConfig:
    """The benchmark's encoder; CPC's patch encoder uses layer norm (CPC v2)."""
    return EncoderConfig(name, width=width, norm="layer" if method == "cpc" else "batch")


def method_throughput(args, method: str) -> dict:
    """Images/s of full training steps of ``method`` (augmentation + forward + backward + Adam +
    target update) on the CPU, at ``--throughput-batch`` images per step."""
    data = load_images(DataConfig(args.data, limit=args.throughput_batch), "train")
    mean, std = data.channel_stats()
    cfg = ImagePretrainConfig(
        method=method, encoder=_encoder_config(args.throughput_encoder, args.width, method)
    )
    built = build_method(cfg, int(data.images.shape[-1]), mean, std)
    opt = torch.optim.Adam(built.model.parameters(), lr=1e-3)
    batch = [data.images[: args.throughput_batch], data.labels[: args.throughput_batch]]
    gen = torch.Generator().manual_seed(0)
    after_step = getattr(built.model, "after_optimizer_step", None)
    views = getattr(built.objective, "views", None)
    times, aug_times = [], []
    for i in range(args.throughput_steps + 1):
        aug = 0.0
        if views is not None:
            start = time.perf_counter()
            views(batch[0], torch.Generator().manual_seed(i))
            aug = time.perf_counter() - start
        start = time.perf_counter()
        opt.zero_grad()
        loss, _ = built.objective(built.model, batch, gen)
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step(i + 1, args.throughput_steps + 1)
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
            aug_times.append(aug)
    step = statistics.median(times)
    return {
        "method": method,
        "batch": args.throughput_batch,
        "encoder": args.throughput_encoder,
        "threads": torch.get_num_threads(),
        "median_step_s": round(step, 3),
        "images_per_s": round(args.throughput_batch / step, 1),
        "augment_share": round(statistics.median(aug_times) / step, 3) if views else None,
    }


def throughput_table(args, methods: list[str]) -> str:
    """Markdown table of :func:`method_throughput` for each method (freed memory kept unless
    ``--system-malloc``)."""
    kept = False if args.system_malloc else keep_freed_memory()
    rows = [method_throughput(args, m) for m in methods]
    lines = [
        f"Training step on CPU ({args.throughput_encoder}, batch {args.throughput_batch}, "
        f"{rows[0]['threads']} threads, freed memory kept: {kept}, median of "
        f"{args.throughput_steps} steps):",
        "",
        "| method | images/s | step s | augmentation share |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        share = "-" if r["augment_share"] is None else f"{100 * r['augment_share']:.0f}%"
        lines.append(f"| {r['method']} | {r['images_per_s']} | {r['median_step_s']} | {share} |")
    return "\n".join(lines)


def _mean_field(rows: list[dict], field: str) -> str:
    vals = [float(r[field]) for r in rows if r.get(field) not in (None, "")]
    return f"{statistics.mean(vals):.0f}" if vals else "-"


def _table(rows: list[dict], protocols: list[str]) -> str:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in rows:
        groups[(row["method"], row["protocol"])].append(row["accuracy"])
    names = list(dict.fromkeys(r["method"] for r in rows))
    lines = [
        "| encoder | "
        + " | ".join(HEADERS[p] for p in protocols)
        + " | seeds | pretrain steps | pretrain s |",
        "|---|" + "---:|" * (len(protocols) + 3),
    ]
    for name in names:
        cells = []
        for protocol in protocols:
            vals = groups[(name, protocol)]
            if not vals:
                cells.append("n/a")
                continue
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f"{100 * statistics.mean(vals):.1f} ± {100 * sd:.1f}")
        seeds = max(len(groups[(name, p)]) for p in protocols)
        # One row per (method, seed) for the pretraining figures, whatever the protocols.
        runs = list({r["seed"]: r for r in rows if r["method"] == name}.values())
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {seeds} | "
            f"{_mean_field(runs, 'pretrain_steps')} | {_mean_field(runs, 'pretrain_s')} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = _parse()
    args.protocol_list = [p.strip() for p in args.protocols.split(",") if p.strip()]
    unknown = sorted(set(args.protocol_list) - set(PROTOCOLS))
    if unknown:
        sys.exit(f"unknown protocol(s) {unknown}; choose from {list(PROTOCOLS)}")
    if args.system_malloc and not args.throughput_only:
        sys.exit(
            "--system-malloc needs --throughput-only: pretraining keeps freed memory for the "
            "rest of the process, so a later speed test could not measure without it"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    if args.throughput_only:
        print(throughput_table(args, methods))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    probe = DataConfig(args.data, limit=args.probe_train_limit, test_limit=args.test_limit)
    train, test = load_images(probe, "train"), load_images(probe, "test")
    mean, std = train.channel_stats()
    ledger = Ledger(out, {k: getattr(args, k) for k in RESULT_SETTINGS})
    seeds = [int(s) for s in args.seeds.split(",")]
    if not args.skip_baselines:
        pixels = (train.images.flatten(1).float() / 255, test.images.flatten(1).float() / 255)
        _score(ledger, "raw pixels", -1, pixels, train, test, {}, args)
        for seed in seeds:
            seed_everything(seed)
            encoder = build_encoder(EncoderConfig(args.encoder, width=args.width))
            _score(
                ledger, "random init", seed, (encoder, Normalize(mean, std)), train, test, {}, args
            )
    for seed in seeds:
        for method in methods:
            _pretrain_and_score(args, method, seed, train, test, ledger, out)
    budget = f" (or {args.budget_minutes} min)" if args.budget_minutes else ""
    report = [
        f"Data: {args.data}; pretraining at most {args.max_steps} steps{budget} x batch "
        f"{args.batch_size} on {args.train_limit or 'all'} train images ({args.encoder}); probe "
        f"on {len(train)} train / {len(test)} test images.",
        "",
        _table(ledger.rows, args.protocol_list),
    ]
    if args.throughput_steps:
        report += ["", throughput_table(args, methods)]
    text = "\n".join(report)
    (out / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
