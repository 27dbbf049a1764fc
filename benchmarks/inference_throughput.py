"""Inference throughput on CPU: ``molssl embed`` (and ``molssl predict``) against the ceiling.

On the first N MOSES SMILES (default 20,000) it times, in one process and one run:

- ``ceiling``: the forward pass of the encoder's linear layers alone (the five GIN MLPs
  ``Linear(300, 600) -> ReLU -> Linear(600, 300)`` on as many node rows as each batch has, and
  ``feat_lin`` on its graphs), on the same batches the model sees, under
  ``torch.inference_mode``. It is timed first and last; the ratios divide by the mean of both.
- ``model only``: ``MolEncoder.encode`` on the same batches, already featurized and collated.
- ``embed``: :func:`molssl.embed.embed_file` end to end (SMILES file -> ``.npy``, including
  loading the weights and starting the featurization workers) for each ``--workers`` value.
- ``predict``: ``molssl predict`` end to end, when this molssl has it (``--model`` a fine-tuned
  model file; skipped otherwise).

The encoder is a default GIN (5 x 300, MolCLR preset) with random weights (``random``) unless
``--checkpoint`` is given; throughput does not depend on the weights. ``mol/s`` counts input
rows per wall-clock second. The machine's load average is printed with the table: on a shared
machine the figures are only as good as the idle CPU.

Usage::

    python benchmarks/inference_throughput.py [--n 20000] [--batch-size 256] [--workers 0 1 2]
        [--threads T] [--checkpoint SPEC] [--model FINETUNED.pt] [--keep-memory]

Data: ``pretrain/moses_test.smi.gz`` of the shared data (``benchmarks/_shared.py``).
"""

from __future__ import annotations

import argparse
import gzip
import os
import tempfile
import time
from itertools import islice
from pathlib import Path

import torch

from molssl.embed import embed_file
from molssl.featurize import featurized_batches
from molssl.models import MolEncoder
from molssl.models.pretrained import load_pretrained

try:
    from benchmarks._shared import pretrain_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/inference_throughput.py
    from _shared import pretrain_dir, run


def moses_smiles(n: int) -> list[str]:
    """The first ``n`` SMILES of MOSES (test split, then train when it has fewer)."""
    root = pretrain_dir()
    out: list[str] = []
    for name in ("moses_test.smi.gz", "moses_train.smi.gz"):
        path = root / name
        if not path.is_file():
            continue
        with gzip.open(path, "rt") as fh:
            rows = (line.split()[0] for line in fh if line.strip())
            out += [s for s in islice(rows, n + 1 - len(out)) if s.lower() != "smiles"]
        if len(out) >= n:
            return out[:n]
    if not out:
        raise SystemExit(
            f"no MOSES file in {root}; set MOLSSL_SHARED_DATA to the shared data folder"
        )
    return out


def ceiling(encoder: MolEncoder, batches: list) -> float:
    """Seconds of the encoder's linear layers alone (forward) over ``batches``."""
    mlps = [conv.mlp for conv in encoder.gnns]
    hidden = encoder.feat_lin.in_features
    x = torch.randn(max(b.num_nodes for b in batches), hidden)
    pooled = torch.randn(max(b.num_graphs for b in batches), hidden)
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            h = x[: batch.num_nodes]
            for mlp in mlps:
                h = mlp(h)
            encoder.feat_lin(pooled[: batch.num_graphs])
    return time.perf_counter() - start


def model_only(encoder: MolEncoder, batches: list) -> float:
    """Seconds of ``encoder.encode`` over already collated ``batches``."""
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            encoder.encode(batch)
    return time.perf_counter() - start


def timed(func, *args, **kwargs) -> float:  # noqa: ANN001
    start = time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - start


def predict_runner(model: str | None):  # noqa: ANN201
    """``(name, run(input, output))`` for ``molssl predict`` when available, else None."""
    if model is None:
        return None
    try:
        from molssl.cli import main as cli
    except ImportError:
        return None

    def run(src: Path, out: Path, batch_size: int, workers: int) -> None:
        argv = ["predict", "--model", model, "--input", str(src), "-o", str(out)]
        argv += ["--batch-size", str(batch_size), "--workers", str(workers)]
        if cli(argv) != 0:
            raise SystemExit("molssl predict failed")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="MOSES molecules")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--checkpoint", default="random", help="encoder weights (default random)")
    parser.add_argument("--model", default=None, help="fine-tuned model for molssl predict")
    parser.add_argument(
        "--keep-memory",
        action="store_true",
        help="keep freed memory in the process (as the trainer does on CPU)",
    )
    args = parser.parse_args()
    if args.keep_memory:
        from molssl.contrastive.training.allocator import keep_freed_memory

        keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    smiles = moses_smiles(args.n)
    loaded = load_pretrained(args.checkpoint)
    encoder, featurizer = loaded.encoder, loaded.featurizer
    chunks = featurized_batches(smiles, featurizer, batch_size=args.batch_size)
    batches = [c.batch for c in chunks if c.batch is not None]
    load_before = os.getloadavg()[0]
    print(
        f"{len(smiles)} MOSES SMILES, {sum(b.num_graphs for b in batches)} featurized, "
        f"batch {args.batch_size}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; load average {load_before:.2f}; weights {loaded.init}"
    )
    ceiling(encoder, batches[:2])  # warm-up
    seconds = {"ceiling (first)": ceiling(encoder, batches)}
    seconds["model only"] = model_only(encoder, batches)
    predict = predict_runner(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "moses.smi"
        src.write_text("".join(f"{s}\n" for s in smiles))
        for workers in args.workers:
            out = Path(tmp) / f"embed{workers}.npy"
            seconds[f"embed, workers {workers}"] = timed(
                embed_file, args.checkpoint, src, out, batch_size=args.batch_size, workers=workers
            )
            if predict is not None:
                out = Path(tmp) / f"predict{workers}.csv"
                seconds[f"predict, workers {workers}"] = timed(
                    predict, src, out, args.batch_size, workers
                )
    seconds["ceiling (last)"] = ceiling(encoder, batches)
    cap = len(smiles) * 2 / (seconds["ceiling (first)"] + seconds["ceiling (last)"])
    header = f"{'what':<22} {'seconds':>8} {'mol/s':>7} {'of ceiling':>10}"
    print(header)
    print("-" * len(header))
    for name, s in seconds.items():
        print(f"{name:<22} {s:>8.1f} {len(smiles) / s:>7.0f} {len(smiles) / s / cap:>10.0%}")
    print(f"ceiling (mean of first and last): {cap:.0f} mol/s")
    if predict is None:
        print("predict: not measured (no --model, or this molssl has no `molssl predict`)")
    print(f"load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    run(main)
