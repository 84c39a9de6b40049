"""The Slack platform's shape, read from the source (every import, including those inside functions): capabilities
talk to people through ``chalicelib.slackkit`` and ``chalicelib.decisions``, never through ``chalicelib.frontdoor``
(only its ``/ops`` command registration and grammar remain, until manifests replace them), and the front door,
the platform and decisions import each other without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = ("alerts", "promotion", "scaling", "rotation", "console", "pending")
# what a capability may still take from the front door: registering /ops commands and their grammar
ALLOWED = {"chalicelib.frontdoor.commands", "chalicelib.frontdoor.grammar"}
KNOWN: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The chalicelib modules ``path`` imports anywhere in it (``from a import b`` names ``a.b`` when that is a
    module, else ``a``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if name in modules else node.module)
    return {m for m in out if m in modules}


def test_capabilities_do_not_import_the_front_door_but_for_commands_and_grammar():
    modules = _modules()
    found = {(name, imported) for name, path in modules.items()
             if name.split(".")[1:2] and name.split(".")[1] in CAPABILITIES for imported in _imports(path, modules)
             if imported.startswith("chalicelib.frontdoor") and imported not in ALLOWED}
    assert found == KNOWN


def test_front_door_platform_and_decisions_have_no_import_cycle():
    modules = _modules()
    ours = ("chalicelib.frontdoor", "chalicelib.slackkit", "chalicelib.decisions")
    graph = {name: {m for m in _imports(path, modules) if m.startswith(ours) and m != name}
             for name, path in modules.items() if name.startswith(ours)}
    assert "chalicelib.slackkit.slack" in graph["chalicelib.slackkit.keyed"]  # the graph is read for real
    state: dict[str, str] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append([*trail[trail.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []
