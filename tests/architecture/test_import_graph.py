"""The import graph of the packages: no cycles, and a chemistry-free core.

Every import statement counts, also the ones inside functions (a cycle hidden behind a
function-level import is still a cycle); imports under ``if TYPE_CHECKING:`` do not run and are
left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("molssl", "imagessl")
CORE = "molssl.contrastive"
CHEMISTRY = ("rdkit", "torch_geometric", "deepchem", "chemprop")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules ``name`` imports: ``from pkg import sub`` counts as ``pkg.sub`` when that is a
    module, otherwise as ``pkg``; relative imports are resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".")
                parent = parent if is_package else parent[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_graph_is_read(graph: dict[str, set[str]]) -> None:
    assert "molssl.contrastive.training.trainer" in graph
    assert "molssl.contrastive.io.checkpoint" in graph["molssl.contrastive.training.trainer"]


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert _cycles(graph) == []


def test_cycle_finder_sees_a_function_level_cycle(tmp_path: Path) -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_core_imports_no_chemistry_and_no_models(graph: dict[str, set[str]]) -> None:
    bad = {}
    for name, imported in graph.items():
        if name != CORE and not name.startswith(CORE + "."):
            continue
        wrong = sorted(
            m
            for m in imported
            if m.split(".")[0] in CHEMISTRY
            or (m.startswith("molssl") and m != "molssl" and not m.startswith(CORE))
        )
        if wrong:
            bad[name] = wrong
    assert bad == {}


def test_imagessl_reaches_molssl_only_through_the_core(graph: dict[str, set[str]]) -> None:
    bad = {
        name: sorted(m for m in imported if m.startswith("molssl") and not m.startswith(CORE))
        for name, imported in graph.items()
        if name.startswith("imagessl")
    }
    assert {k: v for k, v in bad.items() if v} == {}
