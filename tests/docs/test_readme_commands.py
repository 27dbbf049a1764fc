"""The documents say what the project does, in commands that run as written.

Shell blocks in README.md and docs/*.md marked ```` ```bash runnable ```` run for real in an empty
folder; blocks marked ```` ```bash parse-only ```` (training, downloads, data) are checked
without running: ``molssl`` / ``imagessl`` lines through the real argparse parsers, benchmark
scripts against the flags they define, ``make`` targets against the Makefile. The convention is
described in docs/architecture.md. Also here: the documents' length, their links, and that the
project's text speaks of the project only (no issue numbers, work periods or machine nicknames).
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```bash (runnable|parse-only)\n(.*?)^```", re.S | re.M)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
BIN = Path(sys.executable).parent


def _blocks(kind: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, match in enumerate(BLOCK.finditer(doc.read_text())):
            if match.group(1) == kind:
                found.append((f"{doc.relative_to(ROOT)}#{i}", match.group(2)))
    return found


def _commands(block: str) -> list[list[str]]:
    """Each command of a block as argv: continuations joined, comments dropped, split on && and ;."""
    text = block.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in [*words, "&&"]:
            if word in ("&&", ";"):
                if current:
                    out.append(current)
                current = []
            else:
                current.append(word)
    return out


def _strip_prefix(argv: list[str]) -> list[str]:
    """Drop ``VAR=value`` assignments and ``nice -n N`` in front of a command."""
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):
        argv = argv[1:]
    if argv[:1] == ["nice"]:
        argv = argv[3:] if argv[1:2] == ["-n"] else argv[1:]
    return argv


def _check_parses(argv: list[str]) -> None:
    """Fail unless ``argv`` is a command the project accepts as written (nothing is run)."""
    argv = _strip_prefix(argv)
    program, args = argv[0], argv[1:]
    if program == "torchrun":
        module = args.index("-m")
        program, args = args[module + 1], args[module + 2 :]
    if program in ("molssl", "imagessl"):
        parser = importlib.import_module(f"{program}.cli").build_parser()
        try:
            parser.parse_args(args)
        except SystemExit as exit_:
            pytest.fail(f"`{shlex.join(argv)}` does not parse (exit {exit_.code})")
    elif program == "make":
        targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M)
        assert set(args) <= set(targets), f"`{shlex.join(argv)}`: no such Makefile target"
    elif program == "python" and args[:1] == ["-m"]:
        module, rest = args[1], args[2:]
        if module.startswith("benchmarks."):
            _check_script(ROOT / "benchmarks" / f"{module.split('.', 1)[1]}.py", rest, argv)
        elif module == "pytest":
            paths = [a for a in rest if not a.startswith("-")]
            assert all((ROOT / p).exists() for p in paths), f"`{shlex.join(argv)}`: no such path"
        else:
            assert module == "venv", f"no check for `{shlex.join(argv)}`"
    elif program == "python":
        _check_script(ROOT / args[0], args[1:], argv)
    elif program == "pip":
        assert args[:3] == ["install", "-c", "constraints.txt"], shlex.join(argv)
        assert (ROOT / "constraints.txt").is_file()
        makefile = (ROOT / "Makefile").read_text()
        assert "-c $(CONSTRAINTS) -e '.[dev]'" in makefile and args[3:] == ["-e", ".[dev]"]
    else:
        assert argv[:2] == [".", ".venv/bin/activate"], f"no check for `{shlex.join(argv)}`"


def _check_script(script: Path, args: list[str], argv: list[str]) -> None:
    assert script.is_file(), f"`{shlex.join(argv)}`: {script} does not exist"
    source = script.read_text()
    for flag in (a.split("=")[0] for a in args if a.startswith("--")):
        assert f'"{flag}"' in source, f"`{shlex.join(argv)}`: {script.name} has no {flag}"


def test_the_marked_blocks_exist() -> None:
    assert len(_blocks("runnable")) >= 3 and len(_blocks("parse-only")) >= 8
    readme = (ROOT / "README.md").read_text()
    for command in ("make demo", "make test", "molssl pretrain", "molssl finetune"):
        assert command in "".join(b for name, b in _blocks("parse-only") if "README" in name)
    assert "python -m pytest -q" in readme


def test_readme_test_command_is_what_ci_runs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python -m pytest -q\n" in recipe + "\n"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("name, block", _blocks("parse-only"), ids=lambda v: str(v)[:40])
def test_expensive_commands_parse_as_written(name: str, block: str) -> None:
    """Training, downloads and data: checked against the real parsers, not run."""
    commands = _commands(block)
    assert commands, name
    for argv in commands:
        _check_parses(argv)


@pytest.mark.parametrize("name, block", _blocks("runnable"), ids=lambda v: str(v)[:40])
def test_cheap_commands_run_as_written(name: str, block: str, tmp_path) -> None:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MOLSSL_OFFLINE": "1",
        "MOLSSL_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr


def test_a_wrong_flag_in_a_parse_only_block_is_caught() -> None:
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        _check_parses(["molssl", "finetune", "--task", "bbbp", "--profle", "full"])
    with pytest.raises(AssertionError, match="has no --nope"):
        _check_parses(["python", "benchmarks/moleculenet.py", "--nope"])
    with pytest.raises(AssertionError, match="no check for"):
        _check_parses(["curl", "https://example.org"])


def test_python_examples_import_what_exists() -> None:
    """Every ``from X import a, b`` in a python block of the documents names a real object."""
    for doc in DOCS:
        for block in PYTHON_BLOCK.findall(doc.read_text()):
            joined = re.sub(r"\(\s*([^)]*?)\s*\)", lambda m: m.group(1).replace("\n", " "), block)
            for module, names in re.findall(r"^from ([\w.]+) import ([\w, ]+)", joined, re.M):
                loaded = importlib.import_module(module)
                for name in (n.strip() for n in names.split(",")):
                    assert hasattr(loaded, name), f"{doc.name}: {module} has no {name}"


def test_documents_stay_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 260
    assert len((ROOT / "benchmarks" / "RESULTS.md").read_text().splitlines()) <= 420


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_and_anchors_resolve() -> None:
    pages = [
        *DOCS,
        ROOT / "benchmarks" / "RESULTS.md",
        ROOT / "benchmarks" / "ledgers" / "README.md",
    ]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: broken link {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
                assert anchor in {_anchor(h) for h in headings}, f"{page.name}: no #{anchor}"


WORK_LOG = re.compile(
    r"\b[Ii]ssues? #?\d+"  # issue numbers
    r"|\b[Ss]essions? \d+|\b[Rr]ounds? \d+|\b[Pp]eriods? \d+"  # numbered work periods
    r"|\b(?:[Ff]irst|[Ss]econd|[Tt]hird|[Ff]ourth|[Ff]ifth|[Ss]ixth|[Ss]eventh|[Ee]ighth)"
    r" (?:session|period|round|machine|box)\b"
    r"|\b[Dd]ev box\b|\bbox-\d+\b|\b[Ll]ent\b|\b(?:Intel|AMD|Zen \d) box\b"  # machine nicknames
)


def test_the_project_speaks_only_of_itself() -> None:
    files = [*DOCS]
    for pattern in ("**/*.py", "**/*.md", "**/*.sh"):
        files += (ROOT / "benchmarks").glob(pattern)
    for package in ("molssl", "imagessl", "tests"):
        files += (ROOT / package).glob("**/*.py")
    me = Path(__file__).resolve()
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in files
        if path.resolve() != me
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if WORK_LOG.search(line)
    ]
    assert not hits, "\n".join(hits)
