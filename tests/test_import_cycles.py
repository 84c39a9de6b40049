"""No import cycle anywhere in chalicelib/: each package can be read, tested and imported on its own.

The module graph is built from the source with ``ast`` (nothing is imported): an edge for every ``import`` and
``from ... import`` of a chalicelib module, at module level or inside a function (a lazy import is still a
dependency), where importing ``a.b.c`` also imports the packages ``a`` and ``a.b``, and ``from a.b import c`` imports
the submodule ``a.b.c`` when there is one. ``if TYPE_CHECKING:`` blocks are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "chalicelib"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module name an import statement in ``tree`` may load (TYPE_CHECKING blocks excluded)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # kept only if it is a module
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def module_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for target in imported_names(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py"):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c imports a, a.b and a.b.c
                prefix = ".".join(parts[:i])
                if prefix in files and prefix != name:
                    edges.add(prefix)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:  # iterative Tarjan: chalicelib's graph is deep enough for recursion limits
        work = [(node, iter(sorted(graph[node])))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[current] = min(low[current], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[current])
            if low[current] == index[current]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == current:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found, key=lambda c: (-len(c), c))


def a_cycle_through(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete loop inside a component, to name in the failure: a -> b -> ... -> a."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return component


def test_chalicelib_has_no_import_cycle():
    graph = module_graph()
    found = cycles(graph)
    assert not found, "import cycles in chalicelib/:\n" + "\n".join(
        f"  {len(c)} modules: {' -> '.join(a_cycle_through(graph, c))}   (all: {', '.join(c)})" for c in found)


def test_the_graph_sees_lazy_package_and_relative_imports_and_skips_type_checking(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub import leaf\n")
    (pkg / "sub" / "leaf.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.late\n")
    (pkg / "late.py").write_text("def f():\n    from . import sub\n")
    (pkg / "deep.py").write_text("import pkg.sub.leaf\n")
    graph = module_graph(tmp_path, "pkg")
    assert graph["pkg.sub.leaf"] == set()  # TYPE_CHECKING only
    assert graph["pkg.late"] == {"pkg", "pkg.sub"}  # lazy and relative
    assert graph["pkg.deep"] == {"pkg", "pkg.sub", "pkg.sub.leaf"}  # a.b.c imports a and a.b
    assert cycles(graph) == []
    (pkg / "sub" / "leaf.py").write_text("def g():\n    import pkg.late\n")
    graph = module_graph(tmp_path, "pkg")
    assert cycles(graph) == [["pkg.late", "pkg.sub", "pkg.sub.leaf"]]
    assert a_cycle_through(graph, cycles(graph)[0]) == ["pkg.late", "pkg.sub", "pkg.sub.leaf", "pkg.late"]
