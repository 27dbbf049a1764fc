"""Command-line interface of imagessl.

The image methods (SimCLR and the pretext tasks) are not built yet; until they are, this command
only reports its version, so that no subcommand is advertised before it works.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The ``imagessl`` argument parser."""
    from imagessl import __version__

    parser = argparse.ArgumentParser(
        prog="imagessl",
        description=(
            "Self-supervised learning on images on molssl's contrastive core. "
            "No subcommands are available in this release yet."
        ),
    )
    parser.add_argument("--version", action="version", version=f"imagessl {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imagessl`` console script."""
    build_parser().parse_args(argv)
    print("imagessl: no subcommands yet (see `imagessl --help`).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
