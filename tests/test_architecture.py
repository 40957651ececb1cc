"""The layers hold: no import cycle between our modules, no hidden (function-level) imports.

import-linter (`make lint`) checks which package may import which; these checks cover what a
layers contract cannot see: a cycle inside one package, and an import of our own code tucked
inside a function, which hides an edge from a reader (and once hid wrong-way ones).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

from common.paths import ROOT

PACKAGES = (
    "app",
    "automation",
    "commandline",
    "common",
    "components",
    "policy",
    "sandbox",
    "verify",
)
#: The comment that admits a function-level import: it must say what start-up time it saves.
LAZY_MARK = "lazy import"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _package_parents(graph: grimp.ImportGraph) -> set[str]:
    """A package's __init__ importing its own submodules is not a cycle worth naming."""
    return {m for m in graph.modules if graph.find_children(m)}


def test_no_import_cycle_between_our_modules() -> None:
    graph = grimp.build_graph(*PACKAGES)
    parents = _package_parents(graph)
    cycles = []
    for component in _cycles(graph):
        members = [m for m in component if m not in parents]
        if len(members) > 1:
            cycles.append(component)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_sees_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard above is only as good as the cycle it catches."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclepkg import a  # inside a function\n")
    (pkg / "c.py").write_text("import cyclepkg.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = _cycles(grimp.build_graph("cyclepkg", cache_dir=None))
    assert found == [["cyclepkg.a", "cyclepkg.b"]]


def _function_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each import of our packages inside a function without the lazy mark."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    hidden: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.ImportFrom):
                    names = ["." if child.level else (child.module or "")]
                else:
                    names = [alias.name for alias in child.names]
                ours = [n for n in names if n == "." or n.split(".")[0] in PACKAGES + ("tests",)]
                around = " ".join(
                    lines[max(0, child.lineno - 2) : child.end_lineno or child.lineno]
                )
                if ours and LAZY_MARK not in around.lower():
                    hidden.extend((child.lineno, n) for n in ours)
            visit(child, nested)

    visit(ast.parse(source), False)
    return hidden


def test_no_hidden_import_of_our_modules() -> None:
    """Imports at module top; a lazy one says `lazy import` and why (a measured start-up cost)."""
    offenders = []
    for folder in (*PACKAGES, "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, module in _function_level_imports(path):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    offenders += [
        f"__main__.py:{n} imports {m}" for n, m in _function_level_imports(ROOT / "__main__.py")
    ]
    assert not offenders, f"{len(offenders)} function-level imports:\n" + "\n".join(offenders)


def test_hidden_import_finder_sees_one(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\n\ndef f():\n    from sandbox import state\n    import json\n\n"
        "def g():\n    # lazy import: pulumi costs 0.8 s at start-up\n    import verify.runner\n"
    )
    assert _function_level_imports(module) == [(4, "sandbox")]
