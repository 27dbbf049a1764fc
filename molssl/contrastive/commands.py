"""A small argparse front end shared by the ``molssl`` and ``imagessl`` command lines.

Subcommands register with a decorator; the errors a user can cause (bad input, bad config, a
missing file) print one line and exit with status 2 instead of a traceback. Parsing, ``--help``
and usage errors import no torch: commands import their heavy modules when they run. A command
with a ``--device`` flag has it checked (:func:`~molssl.contrastive.training.devices.check_device`)
before it starts.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Command = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]


class CommandLine:
    """Subcommands, the parser built from them, and the ``main`` entry point.

    Args:
        prog: Program name, e.g. ``"molssl"``.
        description: Shown by ``--help``.
        version: Shown by ``--version``.
        user_errors: Returns the exception types that are the user's to fix (imported lazily, so
            that ``--help`` stays fast).
    """

    def __init__(
        self,
        prog: str,
        description: str,
        version: str,
        user_errors: Callable[[], tuple[type[BaseException], ...]] = tuple,
    ) -> None:
        self.prog = prog
        self.description = description
        self.version = version
        self.user_errors = user_errors
        self.commands: dict[str, tuple[str, Configure, Command]] = {}

    def command(self, name: str, help: str, configure: Configure) -> Callable[[Command], Command]:
        """Register a subcommand: ``configure`` adds its arguments, the decorated function runs it."""

        def decorator(func: Command) -> Command:
            self.commands[name] = (help, configure, func)
            return func

        return decorator

    def build_parser(self) -> argparse.ArgumentParser:
        """The argument parser with every registered subcommand."""
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description)
        parser.add_argument("--version", action="version", version=f"{self.prog} {self.version}")
        parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
        self._subparsers: dict[str, argparse.ArgumentParser] = {}
        for name, (help_text, configure, func) in self.commands.items():
            p = sub.add_parser(name, help=help_text, description=help_text)
            configure(p)
            p.set_defaults(func=func)
            self._subparsers[name] = p
        return parser

    def parse(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """Parse ``argv``. A mistyped flag is a usage error of its subcommand that names the
        closest flag (``--profle``: did you mean ``--profile``?), reported before anything else
        (also before "the following arguments are required"); exit status 2."""
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = self.build_parser()
        name = next((t for t in argv if t in self._subparsers), None)
        if name is not None:
            command = self._subparsers[name]
            flags = [o for a in (*command._actions, *parser._actions) for o in a.option_strings]
            unknown: list[str] = []
            for token in argv[argv.index(name) + 1 :]:
                if token == "--":
                    break
                key = token.split("=", 1)[0]
                if token.startswith("--") and not any(f.startswith(key) for f in flags):
                    unknown.append(key)  # neither a flag nor an abbreviation of one
            if unknown:
                names = {f[2:]: f for f in flags if f.startswith("--")}
                named = []
                for key in unknown:
                    close = difflib.get_close_matches(key[2:], list(names), 1, cutoff=0.7)
                    named.append(f"{key} (did you mean {names[close[0]]}?)" if close else key)
                command.error(f"unrecognized argument{'s' * (len(named) > 1)}: {', '.join(named)}")
        args, extra = parser.parse_known_args(argv)
        if extra:  # e.g. a second positional: the subcommand's usage, not the program's
            self._subparsers[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        return args

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Parse ``argv``, run the subcommand and return its exit status."""
        args = self.parse(argv)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(levelname)s %(name)s: %(message)s",
        )
        from molssl.contrastive.config import ConfigError

        try:
            if getattr(args, "device", None) is not None:
                from molssl.contrastive.training.devices import check_device

                check_device(args.device)
            _check_outputs(args)
            return args.func(args)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except (ConfigError, FileNotFoundError, FileExistsError) as exc:  # no heavy imports
            message = " ".join(str(exc).split()) or type(exc).__name__
            print(f"{self.prog} {args.command}: error: {message}", file=sys.stderr)
            return 2
        except self.user_errors() as exc:
            message = describe_os_error(exc, args) if _from_the_os(exc) else str(exc)
            message = " ".join(message.split()) or type(exc).__name__
            print(f"{self.prog} {args.command}: error: {message}", file=sys.stderr)
            return 2
        except OSError as exc:
            if exc.errno not in _ENVIRONMENT_ERRNOS:
                raise
            print(
                f"{self.prog} {args.command}: error: {describe_os_error(exc, args)}",
                file=sys.stderr,
            )
            return 2


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output (``-o``/``--out``) that cannot be written before the command's work."""
    from molssl.contrastive.io.atomic import check_writable

    for name in ("output", "out"):
        value = getattr(args, name, None)
        if isinstance(value, str) and value:
            check_writable(value)


_ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.EFBIG,
    }
)


def _from_the_os(exc: BaseException) -> bool:
    """An OSError raised by the operating system (errno set), not one raised with a message."""
    return isinstance(exc, OSError) and exc.errno is not None and exc.strerror is not None


def describe_os_error(exc: OSError, args: argparse.Namespace | None = None) -> str:
    """One line for a file-system error: which path, what went wrong and what to do.

    A full disk's ``write`` names no file; the command's output (``-o``/``--out``) is named then.
    """
    output = next((getattr(args, a) for a in ("output", "out") if getattr(args, a, None)), None)
    where = exc.filename or output
    subject = f"cannot write {where}" if where else "cannot write the output"
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"{subject}: {exc.strerror}; free disk space or write to another disk (-o/--out)"
    if code == errno.EROFS:
        return f"{subject}: {exc.strerror}; write to another disk (-o/--out)"
    if code in (errno.EACCES, errno.EPERM):
        inside = output is not None and where is not None and _within(where, output)
        if not inside and where is not None:  # an input, or a folder the command reads
            return f"cannot open {where}: {exc.strerror}; check its permissions"
        return (
            f"{subject}: {exc.strerror}; choose a folder you can write to (-o/--out) or "
            "change its permissions"
        )
    if code == errno.EISDIR:
        return f"{where} is a folder, not a file; give a file path"
    if code in (errno.ENOTDIR, errno.EEXIST) and where:
        blocker = next((p for p in (Path(where), *Path(where).parents) if p.is_file()), None)
        if blocker is not None:
            return (
                f"cannot create {where}: {blocker} is a file, not a folder; choose another "
                "path or move that file"
            )
    if code == errno.ENAMETOOLONG:
        return f"cannot create {where}: the name is too long; choose a shorter path"
    return f"{where}: {exc.strerror}" if where else str(exc)


def _within(path: str | Path, output: str | Path) -> bool:
    """Whether ``path`` is ``output``, its temporary file, inside it, or a folder above it."""
    a, b = Path(path).absolute(), Path(output).absolute()
    temporary = a.parent == b.parent and a.name.startswith(f".{b.name}.")
    return a == b or temporary or b in a.parents or a in b.parents


def _bounded(kind: type, low: float, what: str) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what
    return parse


positive_int = _bounded(int, 1, "an integer >= 1")
"""argparse ``type`` for counts that must be at least 1 (``--batch-size``, ``--epochs``)."""
non_negative_int = _bounded(int, 0, "an integer >= 0")
"""argparse ``type`` for counts that may be 0 (``--workers``, ``--seed``)."""


def positive_float(text: str) -> float:
    """argparse ``type`` for a number > 0 (``--lr``, ``--temperature``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not 0 < value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def add_run_arguments(parser: argparse.ArgumentParser, *, unit: str, set_example: str) -> None:
    """The flags every pretraining command shares (they map onto ``trainer.*`` and ``--set``)."""
    parser.add_argument("--out", default=None, help="output directory (trainer.out_dir)")
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help="planned epochs (LR schedule)"
    )
    parser.add_argument(
        "--max-steps", type=positive_int, default=None, help="stop after this many steps"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=None, help=f"{unit} per step per process"
    )
    parser.add_argument("--lr", type=positive_float, default=None, help="initial learning rate")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    parser.add_argument("--workers", type=non_negative_int, default=None, help="DataLoader workers")
    parser.add_argument("--seed", type=non_negative_int, default=None)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override any config field, e.g. --set {set_example} (repeatable)",
    )


def run_overrides(args: argparse.Namespace, **extra: object) -> dict[str, object]:
    """Dotted config overrides from :func:`add_run_arguments`'s flags (unset flags left out).

    ``extra`` adds command-specific ``key=value`` pairs (e.g. ``{"data.path": args.data}``);
    ``--set`` items are applied last.
    """
    from molssl.contrastive.config import parse_set_arguments

    flags = {
        **extra,
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
    return overrides
