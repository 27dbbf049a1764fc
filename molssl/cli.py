"""Command-line interface: parses arguments, builds configs and calls the Python API.

Every subcommand is a thin wrapper; the work lives in importable functions so that notebooks and
scripts get the same behaviour. Only this module prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand: ``configure`` adds its arguments, the decorated function runs it."""

    def decorator(func: Command) -> Command:
        _COMMANDS[name] = (help, configure, func)
        return func

    return decorator


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smiles",
        default=None,
        help="SMILES file to featurize (default: RDKit's bundled first_5K.smi)",
    )
    parser.add_argument("--workers", type=int, default=2, help="featurization processes")


@command("demo", "featurize the embedded default corpus and print a summary", _demo_args)
def _demo(args: argparse.Namespace) -> int:
    from molssl.demo import run_demo

    summary = run_demo(smiles_path=args.smiles, workers=args.workers)
    print(summary.format())
    return 0


def _datasets_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help="directory holding MoleculeNet files (default: $MOLSSL_DATA_DIR, then the cache)",
    )


@command("datasets", "list the MoleculeNet registry and where each file was found", _datasets_args)
def _datasets(args: argparse.Namespace) -> int:
    from molssl.data import dataset_status, format_dataset_table

    print(format_dataset_table(dataset_status(data_dir=args.data_dir)))
    return 0


def _featurize_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="SMILES corpus: .smi/.txt/.csv, optionally .gz")
    parser.add_argument("-o", "--output", required=True, help="graph store directory")
    parser.add_argument("--smiles-col", default=None, help="SMILES column of a CSV input")
    parser.add_argument("--workers", type=int, default=1, help="featurization processes")
    parser.add_argument("--shard-size", type=int, default=100_000, help="molecules per shard")
    parser.add_argument("--featurizer", default="molclr", help="featurizer scheme (molclr or rich)")
    parser.add_argument(
        "--hydrogens", default="implicit", help="hydrogen policy: implicit or explicit"
    )
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip ECFP bits and BRICS fragments (only the MolCLR objective can use the store)",
    )


@command("featurize", "featurize a SMILES corpus once into an on-disk graph store", _featurize_args)
def _featurize(args: argparse.Namespace) -> int:
    from molssl.featurize import get_featurizer
    from molssl.store import build_graph_store

    extras = not args.no_extras
    featurizer = get_featurizer(
        args.featurizer, hydrogens=args.hydrogens, fingerprint=extras, fragments=extras
    )
    store = build_graph_store(
        args.input,
        args.output,
        featurizer=featurizer,
        smiles_column=args.smiles_col,
        workers=args.workers,
        shard_size=args.shard_size,
    )
    meta = store.meta
    print(
        f"graph store {store.path}: {len(store)} graphs from {meta['rows_done']} rows, "
        f"{meta['failures']} failures (listed in {store.path / 'failures.csv'})"
    )
    return 0


def _pretrain_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML preset, e.g. configs/molclr_gin.yaml")
    parser.add_argument(
        "--data", default=None, help="SMILES file or graph store (default: first_5K.smi)"
    )
    parser.add_argument("--out", default=None, help="output directory (trainer.out_dir)")
    parser.add_argument("--epochs", type=int, default=None, help="planned epochs (LR schedule)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="molecules per step per process"
    )
    parser.add_argument("--lr", type=float, default=None, help="initial learning rate")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field, e.g. --set encoder.num_layers=3 (repeatable)",
    )


@command(
    "pretrain", "contrastive pretraining (MolCLR / iMolCLR) of a graph encoder", _pretrain_args
)
def _pretrain(args: argparse.Namespace) -> int:
    from molssl.config import apply_overrides, parse_set_arguments
    from molssl.pretrain import PretrainConfig, load_pretrain_config, pretrain

    cfg = load_pretrain_config(args.config) if args.config else PretrainConfig()
    flags = {
        "data.path": args.data,
        "trainer.out_dir": args.out,
        "trainer.epochs": args.epochs,
        "trainer.max_steps": args.max_steps,
        "trainer.batch_size": args.batch_size,
        "trainer.lr": args.lr,
        "trainer.device": args.device,
        "trainer.num_workers": args.workers,
        "trainer.seed": args.seed,
        "trainer.resume": True if args.resume else None,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    overrides.update(parse_set_arguments(args.set))
    cfg = apply_overrides(cfg, overrides)
    result = pretrain(cfg)
    print(
        f"pretraining stopped at step {result.step} (epoch {result.epoch})"
        f"{' after an interruption' if result.interrupted else ''}; "
        f"last checkpoint {result.last_checkpoint}, best {result.best_checkpoint}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``molssl`` argument parser with every registered subcommand."""
    from molssl import __version__

    parser = argparse.ArgumentParser(
        prog="molssl", description="Self-supervised contrastive learning on molecules."
    )
    parser.add_argument("--version", action="version", version=f"molssl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, configure, func) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure(p)
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``molssl`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
