"""Command-line interface: parses arguments, builds configs and calls the Python API.

Every subcommand is a thin wrapper; the work lives in importable functions so that notebooks and
scripts get the same behaviour. Only this module prints.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from molssl import __version__
from molssl.contrastive.commands import (
    CommandLine,
    add_run_arguments,
    non_negative_int,
    positive_int,
    run_overrides,
)
from molssl.models.sources import WEIGHT_KINDS, weights_grammar


def _user_errors() -> tuple[type[BaseException], ...]:
    from molssl.benchmark.protocol import ProtocolMismatchError
    from molssl.contrastive.config import ConfigError
    from molssl.contrastive.io.checkpoint import CheckpointError
    from molssl.data import DataFormatError, DatasetNotFoundError, UnknownDatasetError
    from molssl.featurize import InvalidSmilesError, UnknownFeaturizerError
    from molssl.finetune.study import SearchError
    from molssl.models.shipped import ModelCardError
    from molssl.store import StoreError

    return (
        ProtocolMismatchError,
        ConfigError,
        CheckpointError,
        DataFormatError,
        DatasetNotFoundError,
        UnknownDatasetError,
        InvalidSmilesError,
        UnknownFeaturizerError,
        StoreError,
        SearchError,
        ModelCardError,
        FileNotFoundError,
        FileExistsError,
    )


CLI = CommandLine(
    "molssl", "Self-supervised contrastive learning on molecules.", __version__, _user_errors
)
command = CLI.command
build_parser = CLI.build_parser
main = CLI.main


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    parser.add_argument(
        "--smiles", default=None, help="pretraining corpus (default: RDKit's bundled first_5K.smi)"
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="featurization processes")
    parser.add_argument("--pretrain-steps", type=positive_int, default=60, help="pretraining steps")
    parser.add_argument("--finetune-epochs", type=positive_int, default=5, help="benchmark epochs")
    parser.add_argument("--data-dir", default=None, help="where to look for BBBP first")


@command(
    "demo",
    "featurize, pretrain, embed and run a quick benchmark on the embedded default data",
    _demo_args,
)
def _demo(args: argparse.Namespace) -> int:
    from molssl.demo import run_demo

    run_demo(
        args.out,
        smiles_path=args.smiles,
        workers=args.workers,
        pretrain_steps=args.pretrain_steps,
        finetune_epochs=args.finetune_epochs,
        data_dir=args.data_dir,
    )
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


@command(
    "models",
    "list the pretrained encoders released with molssl (load one as molssl:NAME)",
    lambda parser: None,
)
def _models(args: argparse.Namespace) -> int:
    from molssl.models.shipped import list_shipped

    del args
    print("\n".join(list_shipped()))
    return 0


_SMILES_COL_HELP = "SMILES column of a CSV/TSV input: a name, or a 0-based index"
_STANDARDIZE_HELP = (
    "featurize the largest fragment, neutralized (RDKit MolStandardize): every "
    "salt form of a compound gives the same graph"
)
_PARTIAL_HELP = (
    "accept a checkpoint that lacks some encoder tensors (they keep their random "
    "initialisation); without it such a file is refused"
)
_FORMAT_HELP = "input format (default: from the file name; PubChem CID-SMILES by name or content)"


def _featurize_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", help="SMILES corpus: .smi/.txt/.csv/.tsv, optionally .gz (with --verify: STORE)"
    )
    parser.add_argument("-o", "--output", default=None, help="graph store directory")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="check every byte of a store against its checksums: `--verify STORE` checks only; "
        "with INPUT -o STORE, damaged shards are rebuilt",
    )
    parser.add_argument("--format", choices=["smi", "csv", "tsv"], default=None, help=_FORMAT_HELP)
    parser.add_argument("--smiles-col", default=None, help=_SMILES_COL_HELP)
    parser.add_argument("--workers", type=positive_int, default=1, help="featurization processes")
    parser.add_argument(
        "--shard-size", type=positive_int, default=100_000, help="molecules per shard"
    )
    parser.add_argument("--featurizer", default="molclr", help="featurizer scheme (molclr or rich)")
    parser.add_argument(
        "--hydrogens", default="implicit", help="hydrogen policy: implicit or explicit"
    )
    parser.add_argument(
        "--fingerprint-kind",
        choices=["ecfp", "imolclr"],
        default="ecfp",
        help="ECFP4 bits (default) or iMolCLR's exact count fingerprints",
    )
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip ECFP bits and BRICS fragments (only the MolCLR objective can use the store)",
    )
    parser.add_argument("--standardize", action="store_true", help=_STANDARDIZE_HELP)
    parser.add_argument(
        "--descriptors",
        action="store_true",
        help="also store the RDKit 2D descriptors of every molecule (data.desc), the targets "
        "of the descriptors objective (objective.name=molclr+descriptors)",
    )


@command("featurize", "featurize a SMILES corpus once into an on-disk graph store", _featurize_args)
def _featurize(args: argparse.Namespace) -> int:
    from molssl.preflight import require_columns, require_file

    require_file(args.input, "input", "give a SMILES file (.smi/.txt/.csv/.tsv, optionally .gz)")
    if args.output is not None and args.smiles_col is not None:
        require_columns(args.input, [args.smiles_col], "--smiles-col")
    from molssl.featurize import get_featurizer
    from molssl.store import build_graph_store, verify_store

    if args.output is None:
        if not args.verify:
            print("molssl featurize: give -o STORE (or --verify STORE)", file=sys.stderr)
            return 2
        store = verify_store(args.input)
        print(
            f"graph store {store.path}: {len(store)} graphs in {len(store.meta['shards'])} "
            "shards; every file matches its checksum"
        )
        return 0
    extras = not args.no_extras
    featurizer = get_featurizer(
        args.featurizer,
        hydrogens=args.hydrogens,
        fingerprint=extras,
        fragments=extras,
        fingerprint_kind=args.fingerprint_kind,
        standardize=args.standardize,
        descriptors=args.descriptors,
    )
    store = build_graph_store(
        args.input,
        args.output,
        featurizer=featurizer,
        smiles_column=args.smiles_col,
        fmt=args.format,
        workers=args.workers,
        shard_size=args.shard_size,
        verify=args.verify,
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
    add_run_arguments(parser, unit="molecules", set_example="encoder.num_layers=3")


@command(
    "pretrain", "contrastive pretraining (MolCLR / iMolCLR) of a graph encoder", _pretrain_args
)
def _pretrain(args: argparse.Namespace) -> int:
    from molssl.contrastive.config import apply_overrides
    from molssl.pretrain import PretrainConfig, load_pretrain_config, pretrain

    cfg = load_pretrain_config(args.config) if args.config else PretrainConfig()
    cfg = apply_overrides(cfg, run_overrides(args, **{"data.path": args.data}))
    result = pretrain(cfg)
    print(
        f"pretraining stopped at step {result.step} (epoch {result.epoch})"
        f"{' after an interruption' if result.interrupted else ''}; "
        f"last checkpoint {result.last_checkpoint}, best {result.best_checkpoint}"
    )
    return result.exit_code


def _embed_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        required=True,
        help=f"weights: {weights_grammar()} (a bare PATH means ckpt:PATH, e.g. runs/x/best.pt)",
    )
    parser.add_argument("--input", required=True, help="SMILES: .smi/.txt/.csv, optionally .gz")
    parser.add_argument("-o", "--output", required=True, help="embeddings: .npy, .csv or .parquet")
    parser.add_argument("--smiles-col", default=None, help=_SMILES_COL_HELP)
    parser.add_argument("--format", choices=["smi", "csv", "tsv"], default=None, help=_FORMAT_HELP)
    parser.add_argument(
        "--batch-size", type=positive_int, default=256, help="molecules per forward pass"
    )
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=None,
        help="processes that featurize ahead of the model (0: none; default 1 "
        "if a CPU is left beside torch's threads)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--allow-partial", action="store_true", help=_PARTIAL_HELP)


@command("embed", "graph embeddings h of a pretrained encoder for a SMILES file", _embed_args)
def _embed(args: argparse.Namespace) -> int:
    from molssl.preflight import require_smiles_input

    require_smiles_input(args.input, args.smiles_col, "give a .smi/.txt/.csv file of SMILES")
    from molssl.embed import embed_file

    summary = embed_file(
        args.checkpoint,
        args.input,
        args.output,
        smiles_column=args.smiles_col,
        batch_size=args.batch_size,
        workers=args.workers,
        device=args.device,
        fmt=args.format,
        allow_partial=args.allow_partial,
    )
    failed = (
        f"{summary.failed} rows failed (listed in {summary.failures_path})"
        if summary.failed
        else f"every row embedded ({summary.failures_path} lists none)"
    )
    print(f"wrote {summary.rows} embeddings of width {summary.dim} to {summary.output}; {failed}")
    return 0


def _task_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", default=None, help="your own task: CSV file (plain or .gz)")
    parser.add_argument("--smiles-col", default="smiles", help="SMILES column of --csv")
    parser.add_argument("--targets", default=None, help="comma-separated target columns of --csv")
    parser.add_argument("--task-type", choices=["classification", "regression"], default=None)
    parser.add_argument("--data-dir", default=None, help="directory holding MoleculeNet files")
    parser.add_argument(
        "--profile",
        choices=["quick", "full", "hu2020"],
        default=None,
        help="full: MolCLR's protocol; quick: fewer epochs, capped sets; hu2020: Hu et al. 2020's",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)


_SPLITTER_NAMES = ("scaffold", "random_scaffold", "random")  # molssl.splits.SPLITTERS (checked)


def _split_args(parser: argparse.ArgumentParser, csv_only: bool = False) -> None:
    which = "the CSV task's" if csv_only else "a"
    parser.add_argument(
        "--split",
        default=None,
        metavar="SPLIT",
        help=f"{', '.join(_SPLITTER_NAMES)} (default: the dataset's), or column:NAME: "
        f"{which} predefined split, column NAME of --csv holding train, valid or "
        "test per row (case-insensitive); without valid rows, validation is "
        "carved out of train (--valid-splitter)",
    )
    parser.add_argument(
        "--split-file",
        default=None,
        metavar="JSON",
        help=f"{which} predefined split as a JSON file (chemprop's --splits-file "
        'format): {"train": [...], "valid": [...], "test": [...]} of 0-based '
        "data rows (header excluded), or a one-element list of it",
    )
    parser.add_argument(
        "--valid-splitter",
        choices=_SPLITTER_NAMES,
        default=None,
        help="splitter carving validation rows out of train when a predefined "
        "split has none (default scaffold)",
    )


def _csv_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _finetune_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML, e.g. configs/finetune_molclr.yaml")
    parser.add_argument("--task", default=None, help="MoleculeNet task, e.g. bbbp, tox21, esol")
    _task_args(parser)
    init = parser.add_mutually_exclusive_group()
    init.add_argument("--checkpoint", default=None, help="molssl pretraining checkpoint")
    init.add_argument(
        "--init",
        default=None,
        help=f"weights: {weights_grammar()} (a bare PATH means ckpt:PATH)",
    )
    parser.add_argument("--allow-partial", action="store_true", help=_PARTIAL_HELP)
    parser.add_argument("--seed", type=non_negative_int, default=None)
    parser.add_argument("--epochs", type=positive_int, default=None)
    parser.add_argument("--protocol", choices=["joint", "molclr"], default=None)
    _split_args(parser)
    parser.add_argument(
        "--out",
        default=None,
        help="output folder: config, per-epoch state, result, test predictions, "
        "model.pt (default runs/finetune/TASK-SEED)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--join",
        action="store_true",
        help="help the --protocol molclr run (one model per target) that another "
        "process runs in --out: train the targets nobody is training, then "
        "exit; that run collects them and writes the results",
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        default=None,
        metavar="N",
        help="train N members (seeds SEED..SEED+N-1) into --out/member-i/",
    )
    parser.add_argument(
        "--conformal",
        type=float,
        default=None,
        metavar="COVERAGE",
        help="calibrate split-conformal intervals / prediction sets at this "
        "coverage (e.g. 0.9) on the validation split; stored in model.pt "
        "for molssl predict, checked on the test split",
    )
    parser.add_argument(
        "--search",
        type=positive_int,
        default=None,
        metavar="N",
        help="first run N Optuna trials (TPE, seeded) on the validation split "
        "(study in --out/study.db, resumable), then train the best settings; "
        "best settings in --out/search.json",
    )
    parser.add_argument(
        "--standardize",
        action="store_true",
        help=_STANDARDIZE_HELP + "; recorded in model.pt, so predict applies it",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any FinetuneConfig field (repeatable)",
    )


@command("finetune", "fine-tune an encoder on a MoleculeNet task or your CSV", _finetune_args)
def _finetune(args: argparse.Namespace) -> int:
    from pathlib import Path

    from molssl.preflight import require_columns, require_file

    if args.csv:
        require_file(args.csv, "--csv", "give the path of your CSV task")
        require_columns(args.csv, _csv_list(args.targets) or [], "--targets")
        if args.smiles_col != "smiles":
            require_columns(args.csv, [args.smiles_col], "--smiles-col")

    from molssl.contrastive.config import apply_overrides, from_dict, parse_set_arguments, to_dict
    from molssl.finetune import FinetuneConfig, finetune, load_finetune_config
    from molssl.finetune.ensemble import finetune_ensemble

    data = to_dict(load_finetune_config(args.config)) if args.config else {}
    if args.csv or args.task:
        data.update(task=args.task, csv=args.csv)
    elif not data:
        print("molssl finetune: give --task NAME, --csv FILE or --config YAML", file=sys.stderr)
        return 2
    profile = args.profile or (None if args.config else "quick")
    flags = {
        "smiles_col": args.smiles_col if args.csv else None,
        "targets": _csv_list(args.targets),
        "task_type": args.task_type,
        "data_dir": args.data_dir,
        "profile": profile,
        "device": args.device,
        "init": f"ckpt:{args.checkpoint}" if args.checkpoint else args.init,
        "seed": args.seed,
        "epochs": args.epochs,
        "protocol": args.protocol,
        "split": args.split,
        "split_file": args.split_file,
        "valid_splitter": args.valid_splitter,
        "out_dir": args.out,
        "progress": True,
        "resume": True if args.resume else None,
        "conformal": args.conformal,
        "standardize": True if args.standardize else None,
        "allow_partial": True if args.allow_partial else None,
    }
    if args.split_file and not args.split:  # the file replaces a preset's splitter
        data["split"] = None
    data.update({k: v for k, v in flags.items() if v is not None})
    cfg = apply_overrides(from_dict(FinetuneConfig, data), parse_set_arguments(args.set))
    if cfg.out_dir is None:
        name = cfg.task or Path(cfg.csv or "task").name.split(".")[0]
        cfg.out_dir = str(Path("runs") / "finetune" / f"{name.lower()}-{cfg.seed}")
    if args.join:
        from molssl.finetune import join_finetune

        if args.search is not None or args.ensemble is not None:
            print(
                "molssl finetune: --join helps one run; it cannot be combined with --search "
                "or --ensemble",
                file=sys.stderr,
            )
            return 2
        names = join_finetune(cfg)
        print(
            f"trained {len(names)} target(s) for the run in {cfg.out_dir}"
            + (f": {', '.join(names)}" if names else " (none was left to train)")
        )
        return 0
    if args.search is not None:
        from molssl.finetune.search import search_summary, search_then_finetune, worse_note
        from molssl.finetune.study import worse_than_defaults

        found, retrained = search_then_finetune(cfg, args.search, ensemble=args.ensemble)
        print(
            f"search: {search_summary(found)} ({found.search_seconds:.0f} s of trials): "
            f"{_shown(found.best_params)}; recorded in {Path(cfg.out_dir) / 'search.json'}"
        )
        runs = getattr(retrained, "members", [retrained])
        rows = [{"valid_value": r.valid_value} for r in runs]
        if worse_than_defaults(found, rows):
            print(f"warning: {worse_note(found, rows)}")
        _print_finetune(retrained, cfg)
        return 0
    if args.ensemble is not None:
        _print_finetune(finetune_ensemble(cfg, args.ensemble), cfg)
        return 0
    _print_finetune(finetune(cfg), cfg)
    return 0


def _seeds(text: str | None) -> list[int]:
    """``--seeds 0,1,2`` as integers; anything else is a usage error naming the flag."""
    from molssl.contrastive.config import ConfigError

    items = _csv_list(text) or []
    bad = [s for s in items if not s.isdigit()]
    if bad or not items:
        raise ConfigError(
            f"--seeds {text!r}: give comma-separated integers >= 0, e.g. --seeds 0,1,2"
        )
    return [int(s) for s in items]


def _shown(params: dict) -> dict:
    """Settings as a user reads them: 0.15, not Optuna's 0.15000000000000002."""
    return {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in params.items()}


def _print_finetune(done: Any, cfg: Any) -> None:
    from pathlib import Path

    from molssl.finetune.ensemble import EnsembleResult

    if isinstance(done, EnsembleResult):
        ensemble = done
        for member in ensemble.members:
            print(f"member seed {member.seed}: test {member.metric} = {member.value:.4f}")
        print(
            f"{len(ensemble.members)} members, mean test {ensemble.members[0].metric} = "
            f"{ensemble.value:.4f}; predict with: molssl predict --model {ensemble.out_dir}"
        )
        _print_conformal("ensemble mean", ensemble.conformal)
        return
    result = done
    print(
        f"{result.task} ({result.init}, seed {result.seed}, {result.split} split): "
        f"test {result.metric} = {result.value:.4f} at best epoch {result.best_epoch} of "
        f"{result.epochs} ({result.seconds:.1f} s)"
    )
    for name, value in result.per_target.items():
        print(f"  {name}: {value:.4f}")
    carved = result.split_source.get("valid_from_train")
    if carved:
        print(
            f"validation: {result.n_valid} molecules carved out of the training rows by the "
            f"{carved} splitter (the predefined split has no valid rows)"
        )
    _print_conformal("model", result.conformal)
    model = Path(cfg.out_dir) / "model.pt"
    print(f"outputs in {cfg.out_dir}" + (f"; model {model}" if model.is_file() else ""))


def _print_conformal(what: str, report: dict | None) -> None:
    if not report:
        return
    entries = list(report["per_target"].values())
    line = (
        f"{what}: {100 * report['confidence']:.0f}% conformal (calibrated on validation): "
        f"test coverage {report['coverage']:.3f}"
    )
    if "set_size" in entries[0]:
        sizes = [e["set_size"] for e in entries]
        line += f", mean set size {sum(sizes) / len(sizes):.2f}"
    elif len(entries) == 1:  # widths of several targets have different units
        line += f", mean interval width {entries[0]['width']:.3f}"
    print(line)


def _predict_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        nargs="+",
        required=True,
        metavar="PATH",
        help="model.pt of `molssl finetune`, its folder, or several (an "
        "ensemble: mean and <target>_std)",
    )
    parser.add_argument(
        "--input", required=True, help="molecules: .csv/.tsv (optionally .gz), .parquet, .smi/.txt"
    )
    parser.add_argument("-o", "--output", required=True, help="predictions: .csv or .parquet")
    parser.add_argument(
        "--smiles-col",
        default=None,
        help="SMILES column of --input: a name or a 0-based index (default: the "
        "training file's, or smiles)",
    )
    parser.add_argument("--format", choices=["smi", "csv", "tsv"], default=None, help=_FORMAT_HELP)
    parser.add_argument("--batch-size", type=int, default=256, help="molecules per forward pass")
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=None,
        help="processes that featurize ahead of the model (0: none; default 1 "
        "if a CPU is left beside torch's threads)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument(
        "--standardize",
        action="store_true",
        help="standardize the input (largest fragment, neutralized) even if the "
        "model was trained without it; a model fine-tuned with "
        "--standardize applies it anyway",
    )


@command("predict", "predict properties of molecules with fine-tuned model(s)", _predict_args)
def _predict(args: argparse.Namespace) -> int:
    from molssl.preflight import require_file, require_smiles_input

    for path in args.model:
        if not str(path).startswith("molssl:"):  # a release name: predict_file says what it is
            require_file(
                path, "model", "give the model.pt written by `molssl finetune` or its folder"
            )
    require_smiles_input(
        args.input, args.smiles_col, "give a .csv/.tsv/.parquet/.smi file of molecules"
    )
    from molssl.finetune.predictor import predict_file

    summary = predict_file(
        args.model,
        args.input,
        args.output,
        args.smiles_col,
        fmt=args.format,
        batch_size=args.batch_size,
        workers=args.workers,
        device=args.device,
        standardize=args.standardize,
    )
    members = f" (ensemble of {summary.members})" if summary.members > 1 else ""
    print(
        f"wrote {summary.rows} rows of {', '.join(summary.target_names)}{members} to "
        f"{summary.output}; {summary.failed} rows failed (see its error column)"
    )
    return 0


def _benchmark_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tasks", default=None, help="all (default without --csv) or comma-separated: bbbp,tox21"
    )
    weights = ", ".join(k.usage() for name, k in WEIGHT_KINDS.items() if name != "random")
    parser.add_argument(
        "--methods",
        default="random-init,ecfp-rf",
        help="comma-separated: random-init[:CONV] (or random), ecfp-rf, "
        f"ecfp-mlp, chemprop, {weights}; a bare PATH means ckpt:PATH; "
        "optionally LABEL=METHOD",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated run seeds")
    parser.add_argument(
        "--out",
        default=None,
        help="output directory (default runs/benchmark; with --compare, where "
        "the joint table is written, default: nowhere)",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        default=None,
        metavar=("DIR_A", "DIR_B"),
        help="one table from two results folders; refused when their "
        "protocol.json records differ in anything but the methods",
    )
    parser.add_argument(
        "--search",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="Optuna trials per task and method on the validation split before "
        "its cells (study in OUT/study.db, best settings in "
        "OUT/search.json); 0: default settings",
    )
    parser.add_argument(
        "--keep-cells",
        action="store_true",
        help="keep each fine-tuning cell's run folder (config, history, "
        "predictions; with --set protocol=molclr one record per finished "
        "target) in OUT/cells/, so an interrupted cell resumes there and "
        "a second process on OUT shares a per-target cell's targets",
    )
    _task_args(parser)
    _split_args(parser, csv_only=True)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a FinetuneConfig field in every cell, e.g. epochs=5",
    )


@command("benchmark", "fine-tune and compare methods on MoleculeNet tasks", _benchmark_args)
def _benchmark(args: argparse.Namespace) -> int:
    from molssl.benchmark.runner import BenchmarkConfig, benchmark
    from molssl.contrastive.config import parse_set_arguments

    if args.compare:
        from molssl.benchmark.compare import compare_folders

        joint = compare_folders(*args.compare, out_dir=args.out)
        print(joint.markdown, end="")
        if joint.out_dir:
            print(f"written to {joint.out_dir}")
        return 0
    tasks = _csv_list(args.tasks) or ([] if args.csv else ["all"])
    cfg = BenchmarkConfig(
        tasks=tasks,
        csv=args.csv,
        smiles_col=args.smiles_col,
        targets=_csv_list(args.targets) or [],
        task_type=args.task_type,
        methods=_csv_list(args.methods) or [],
        seeds=_seeds(args.seeds),
        profile=args.profile or "quick",
        out_dir=args.out or "runs/benchmark",
        data_dir=args.data_dir,
        device=args.device or "auto",
        finetune=dict(parse_set_arguments(args.set)),
        search=args.search,
        keep_cells=args.keep_cells,
        split=args.split,
        split_file=args.split_file,
        valid_splitter=args.valid_splitter,
    )
    result = benchmark(cfg)
    helped = f", helped with {result.helped} of them" if result.helped else ""
    print(
        f"{result.ran} cells run, {result.skipped} skipped (already done or run by another "
        f"process{helped}), {result.failed} failed"
    )
    print(f"table: {result.summary_md}\nplot: {result.summary_png}\nresults: {result.results_csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
