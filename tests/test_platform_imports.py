"""The Slack platform's shape, read from the source (every import, including those inside functions): capabilities
talk to people through ``chalicelib.slackkit`` and ``chalicelib.decisions`` and register their ``/ops`` executors
with ``chalicelib.slackkit.commands``, never through ``chalicelib.frontdoor``; the platform and decisions import
nothing of the front door either (it depends on them, not the other way round, and on capabilities only through
their manifests); the one module outside the front door that names it is ``chalicelib.capabilities``, for its
manifest. The front door, the platform and decisions import each other without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = ("alerts", "promotion", "scaling", "rotation", "console", "pending")
FRONT_DOOR = "chalicelib.frontdoor"
PLATFORM = ("chalicelib.slackkit", "chalicelib.decisions")


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


def _edges(modules: dict[str, Path], importer: tuple[str, ...] | str) -> set[tuple[str, str]]:
    """(module, what it imports) for every chalicelib module whose name starts with ``importer``."""
    return {(name, imported) for name, path in modules.items() if name.startswith(importer)
            for imported in _imports(path, modules)}


def _front_door(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(name, imported) for name, imported in edges
            if imported.startswith(FRONT_DOOR) and not name.startswith(FRONT_DOOR)}


def test_capabilities_import_nothing_of_the_front_door():
    modules = _modules()
    edges = _edges(modules, tuple(f"chalicelib.{c}" for c in CAPABILITIES))
    # the graph is read for real: each capability's executors register with the platform's registry
    assert {(f"chalicelib.{c}.commands", "chalicelib.slackkit.commands")
            for c in ("alerts", "promotion", "scaling", "rotation")} <= edges
    assert _front_door(edges) == set()


def test_the_platform_and_decisions_import_nothing_of_the_front_door():
    modules = _modules()
    edges = _edges(modules, PLATFORM)
    assert ("chalicelib.slackkit.keyed", "chalicelib.slackkit.slack") in edges  # the graph is read for real
    assert ("chalicelib.decisions.service", "chalicelib.slackkit.slack") in edges
    assert _front_door(edges) == set()


def test_only_the_capability_registry_names_the_front_door_and_only_its_manifest():
    found = _front_door(_edges(_modules(), "chalicelib"))
    assert found == {("chalicelib.capabilities", "chalicelib.frontdoor.manifest")}


def test_the_front_door_reaches_capabilities_only_through_their_manifests():
    edges = _edges(_modules(), FRONT_DOOR)
    assert ("chalicelib.frontdoor.commands", "chalicelib.capabilities") in edges  # the graph is read for real
    assert {(name, imported) for name, imported in edges if imported.split(".")[1] in CAPABILITIES} == set()


def test_front_door_platform_and_decisions_have_no_import_cycle():
    modules = _modules()
    ours = (FRONT_DOOR, *PLATFORM)
    graph = {name: {m for m in _imports(path, modules) if m.startswith(ours) and m != name}
             for name, path in modules.items() if name.startswith(ours)}
    # the graph is read for real: the front door runs commands with the platform's registry and Slack adapter
    assert {"chalicelib.slackkit.commands", "chalicelib.slackkit.slack"} <= graph["chalicelib.frontdoor.commands"]
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
