"""Time ``molssl --help`` / ``imagessl --help`` and a usage error, in fresh processes.

Usage::

    python benchmarks/cli_startup.py [--repeats 5] [--compare OTHER_CHECKOUT]

Prints one row per command: min and median wall seconds over the repeats, and which heavy
modules (torch, rdkit, numpy) the process had imported when it exited. ``--compare`` runs the
same commands against another checkout (e.g. an older commit unpacked with ``git archive``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = [
    ("molssl", ["--help"]),
    ("molssl", ["pretrain", "--help"]),
    ("molssl", ["pretrain", "--batch-size", "-4"]),
    ("imagessl", ["--help"]),
]
PROBE = (
    "import sys\n"
    "from {prog}.cli import main\n"
    "try:\n    main({argv!r})\n"
    "except SystemExit:\n    pass\n"
    "print('HEAVY', [m for m in ('torch', 'rdkit', 'numpy') if m in sys.modules], file=sys.stderr)\n"
)


def _time(root: Path, prog: str, argv: list[str], repeats: int) -> tuple[list[float], str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    times, heavy = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(prog=prog, argv=argv)],
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
        )
        times.append(time.perf_counter() - start)
        heavy = next(
            (line[6:] for line in out.stderr.splitlines() if line.startswith("HEAVY")), "?"
        )
    return times, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare", default=None, help="another checkout to time the same way")
    args = parser.parse_args()
    roots = [("this checkout", REPO)] + ([("compare", Path(args.compare))] if args.compare else [])
    print("| checkout | command | min s | median s | heavy modules imported |")
    print("|---|---|---|---|---|")
    for label, root in roots:
        for prog, argv in COMMANDS:
            times, heavy = _time(root, prog, argv, args.repeats)
            print(
                f"| {label} | `{prog} {' '.join(argv)}` | {min(times):.2f} | "
                f"{statistics.median(times):.2f} | {heavy} |"
            )


if __name__ == "__main__":
    main()
