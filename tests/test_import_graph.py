"""The import graph of the four packages: no circles, and only the arrows the design allows.

Circles are looked for twice: between modules, and between the folders of `bots/` (each
folder taken as one node, so `flows -> identity -> flows` fails even when no two modules form a
circle). Every module of bots/, nlu/, handoff/ and storage/ is parsed with `ast`; every import
counts, including those under `if TYPE_CHECKING:` and those inside functions (a lazy import is
still a dependency a reader has to hold in their head). `from x import y` resolves to `x.y` when
that is a module of ours, else to `x`. A package's `__init__` is the package itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bots", "nlu", "handoff", "storage")

# (importer prefix, imported prefix, why): an arrow the design forbids.
FORBIDDEN = (
    ("nlu", "bots", "nlu imports nothing of ours"),
    ("nlu", "handoff", "nlu imports nothing of ours"),
    ("nlu", "storage", "nlu imports nothing of ours"),
    ("storage", "bots", "storage does not import bots"),
    ("storage", "handoff", "storage does not import handoff"),
    ("storage", "nlu", "storage does not import nlu"),
    ("handoff", "bots", "handoff does not import bots"),
    ("bots.channels", "bots.flows", "channels do not import flows"),
    ("bots.flows", "bots.worker", "flows see a turn as their own FlowContext"),
    ("bots.identity", "bots.worker", "identity sees a turn as its own TurnIdentity"),
    ("bots.identity", "bots.flows", "identity is given the linking flow's texts"),
    ("bots.identity", "bots.gateway", "the gateway calls identity, not the other way round"),
    ("bots.gateway", "bots.worker", "the gateway enqueues; the worker takes it from there"),
    ("bots.gateway", "bots.flows", "the gateway enqueues; the worker takes it from there"),
    ("bots.worker", "bots.gateway", "the worker takes messages from the queue"),
    ("bots.keys", "bots.gateway", "the gateway's routes import bots.keys"),
)

# The rooms of bots/: for the folder-level circle test each is one node.
FOLDERS = (
    "bots.channels",
    "bots.flows",
    "bots.gateway",
    "bots.identity",
    "bots.sandbox",
    "bots.worker",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The project modules `module` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_ours(alias.name):
                    yield _nearest_module(alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.module, node.level)
            if not _is_ours(base):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in known else _nearest_module(base, known)


def _absolute(module: str, is_package: bool, target: str | None, level: int) -> str:
    if level == 0:
        return target or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, target] if target else parts)


def _nearest_module(name: str, known: dict[str, Path]) -> str:
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def import_graph() -> dict[str, set[str]]:
    """Each module of the project and the project modules it imports (itself left out)."""
    known = _modules()
    return {
        module: {target for target in _imported(module, path, known) if target != module}
        for module, path in known.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A concrete path start -> ... -> start inside one strongly connected component."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                frontier.append(nxt)
    return component


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_graph_sees_every_package() -> None:
    graph = import_graph()
    assert {module.split(".")[0] for module in graph} == set(PACKAGES)
    assert "bots.channels" in graph


def test_no_import_cycles() -> None:
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def folder_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """``graph`` with each folder of `FOLDERS` collapsed into one node (imports inside a
    folder left out); every other module stays a node of its own."""

    def node(module: str) -> str:
        return next((f for f in FOLDERS if _within(module, f)), module)

    collapsed: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = collapsed.setdefault(node(module), set())
        edges.update(node(t) for t in targets)
    for source, edges in collapsed.items():
        edges.discard(source)
    return collapsed


def test_no_import_cycles_between_folders() -> None:
    cycles = _cycles(folder_graph(import_graph()))
    assert not cycles, "import cycles between folders of bots/:\n" + "\n".join(
        " -> ".join(c) for c in cycles
    )


def test_the_folder_test_sees_a_circle() -> None:
    graph = {
        "bots.flows.a": {"bots.identity.b"},
        "bots.identity.b": {"storage.x"},
        "bots.identity.c": {"bots.flows.d"},
        "bots.flows.d": set(),
        "storage.x": set(),
    }
    assert not _cycles(graph)  # no two modules import each other ...
    assert _cycles(folder_graph(graph)) == [["bots.flows", "bots.identity", "bots.flows"]]


def test_no_forbidden_arrows() -> None:
    wrong = [
        f"{importer} -> {imported} ({why})"
        for importer, targets in sorted(import_graph().items())
        for imported in sorted(targets)
        for source, target, why in FORBIDDEN
        if _within(importer, source) and _within(imported, target)
    ]
    assert not wrong, "forbidden imports:\n" + "\n".join(wrong)


def test_a_relative_import_resolves_to_the_module() -> None:
    assert _absolute("bots.worker.consumer", False, "outbox", 1) == "bots.worker.outbox"
    assert _absolute("bots.channels", True, "base", 1) == "bots.channels.base"
    assert _absolute("bots.channels.viber", False, None, 2) == "bots"
