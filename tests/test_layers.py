"""The package's layers: imports point downstream only, and no file imports
itself back through others (docs/architecture.md lists the stages)."""

from __future__ import annotations

import ast
from pathlib import Path

import tailorml

PACKAGE = Path(tailorml.__file__).parent

# The stages in the order data flows through them; a module may import its own
# stage or an earlier one, never a later one.
STAGES = [
    "errors",
    "io",
    "config",
    "records",
    "data",
    "features",
    "evaluate",
    "models",
    "train",
    "runs",
    "audit",
    "match",
    "ship",
    "report",
    "serve",
    "pipelines",
    "keras",
    "testing",
    "cli",
]
FACADES = {"__init__", "__main__"}  # the package's front door re-exports from every stage


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every tailorml module the file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
            found.update(n if n in modules else node.module for n in names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name.startswith("tailorml.") and name in modules}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: imported_modules(path, modules) - {name} for name, path in files.items()}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_folder_and_top_level_module_has_a_stage() -> None:
    tops = {stage(m) for m in import_graph()} - FACADES
    assert tops <= set(STAGES), f"not placed in STAGES: {sorted(tops - set(STAGES))}"


def test_imports_point_downstream_only() -> None:
    upstream = []
    for module, imports in import_graph().items():
        if stage(module) in FACADES:
            continue
        rank = STAGES.index(stage(module))
        for target in imports:
            if stage(target) not in FACADES and STAGES.index(stage(target)) > rank:
                upstream.append(f"{module} imports {target}")
    assert not upstream, "imports from a later stage:\n" + "\n".join(sorted(upstream))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the files, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_no_import_cycle_between_files() -> None:
    graph = {
        m: {t for t in imports if stage(t) not in FACADES} for m, imports in import_graph().items()
    }
    graph = {m: t for m, t in graph.items() if stage(m) not in FACADES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_walk_finds_a_planted_cycle_and_an_upstream_import() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert STAGES.index(stage("tailorml.runs.run")) > STAGES.index(stage("tailorml.models.model"))
