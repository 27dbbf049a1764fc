"""Command-line interface of imagessl: parses arguments, builds configs, calls the Python API.

Subcommands: ``pretrain`` (:func:`imagessl.pretrain.pretrain`) and ``eval``
(:func:`imagessl.evaluate.evaluate_checkpoint`). Only this module prints.
"""

from __future__ import annotations

import argparse
import json
import sys

from imagessl import __version__
from imagessl.config import METHOD_NAMES
from molssl.contrastive.commands import (
    CommandLine,
    add_run_arguments,
    non_negative_int,
    positive_int,
    run_overrides,
)


def _user_errors() -> tuple[type[BaseException], ...]:
    from imagessl.data import ImageDataError
    from imagessl.methods import UnknownMethodError
    from molssl.contrastive.config import ConfigError
    from molssl.contrastive.io.checkpoint import CheckpointError

    return (
        UnknownMethodError,
        ImageDataError,
        ConfigError,
        CheckpointError,
        FileNotFoundError,
        FileExistsError,
    )


CLI = CommandLine(
    "imagessl",
    "Self-supervised learning on images (SimCLR, MoCo, BYOL, SwAV, CPC and pretext tasks) on "
    "molssl's contrastive core.",
    __version__,
    _user_errors,
)
command = CLI.command
build_parser = CLI.build_parser
main = CLI.main


def _pretrain_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--method",
        default=None,
        help=f"SSL method: {', '.join(METHOD_NAMES)} (default: the config's, else simclr); "
        "without --config, a quick run on digits with a small ConvNet and a kNN probe",
    )
    parser.add_argument(
        "--config", default=None, help="YAML preset, e.g. configs/simclr_cifar10.yaml"
    )
    parser.add_argument(
        "--data", default=None, help="digits | cifar10 | folder or .tar.gz of class folders"
    )
    add_run_arguments(parser, unit="images", set_example="encoder.name=convnet")


@command("pretrain", "self-supervised pretraining of an image encoder", _pretrain_args)
def _pretrain(args: argparse.Namespace) -> int:
    from imagessl.config import default_config, load_pretrain_config
    from imagessl.methods import get_method
    from imagessl.pretrain import pretrain
    from molssl.contrastive.config import apply_overrides

    cfg = (
        load_pretrain_config(args.config)
        if args.config
        else default_config(args.method or "simclr")
    )
    cfg = apply_overrides(
        cfg, run_overrides(args, **{"method": args.method, "data.path": args.data})
    )
    get_method(cfg.method)
    result = pretrain(cfg)
    print(
        f"{cfg.method} pretraining stopped at step {result.step} (epoch {result.epoch})"
        f"{' after an interruption' if result.interrupted else ''}; "
        f"last checkpoint {result.last_checkpoint}, best {result.best_checkpoint}"
    )
    return result.exit_code


def _eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", required=True, help="last.pt / best.pt of a pretraining run"
    )
    parser.add_argument(
        "--data", default=None, help="digits | cifar10 | PATH (default: the checkpoint's data)"
    )
    parser.add_argument(
        "--protocol",
        choices=["linear", "knn", "finetune"],
        default="linear",
        help="frozen features (linear, knn) or end-to-end fine-tuning",
    )
    parser.add_argument(
        "--k", type=int, default=200, help="kNN neighbours (capped at train images per class)"
    )
    parser.add_argument("--temperature", type=float, default=0.07, help="kNN vote temperature")
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the probe")
    parser.add_argument(
        "--batch-size", type=positive_int, default=256, help="images per forward pass"
    )
    parser.add_argument("--epochs", type=positive_int, default=10, help="fine-tuning epochs")
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning LR of the head")
    parser.add_argument(
        "--encoder-lr-scale",
        type=float,
        default=0.1,
        help="fine-tuning LR of the encoder relative to the head's",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="fine-tuning seed")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


@command("eval", "linear-probe, kNN or fine-tuning accuracy of a checkpoint's encoder", _eval_args)
def _eval(args: argparse.Namespace) -> int:
    from imagessl.config import EvalConfig
    from imagessl.evaluate import evaluate_checkpoint

    cfg = EvalConfig(
        args.protocol,
        args.k,
        args.temperature,
        args.C,
        batch_size=args.batch_size,
        finetune_epochs=args.epochs,
        finetune_lr=args.lr,
        encoder_lr_scale=args.encoder_lr_scale,
        seed=args.seed,
    )
    result = evaluate_checkpoint(args.checkpoint, cfg, data_path=args.data, device=args.device)
    if args.json:
        print(json.dumps(result.__dict__))
    else:
        print(
            f"{result.protocol} accuracy {result.accuracy:.4f} ({result.method} encoder, "
            f"{result.num_train} train / {result.num_test} test images from {result.data})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
