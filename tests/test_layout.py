"""The layout of the repository: its modules import each other without a cycle and train.py's pieces stay short
(that loading data stays light is tested in test_docred_data.py)."""

from __future__ import annotations

import ast

from tests.helpers import REPO

PACKAGES = ("globalre_training",)


def repository_modules() -> dict[str, ast.Module]:
    """Every module of the repository by its import name: the top-level files and the packages' files."""
    paths = sorted(REPO.glob("*.py")) + [
        path for package in PACKAGES for path in sorted((REPO / package).glob("*.py"))
    ]
    modules = {}
    for path in paths:
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)
        modules[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return modules


def imported_names(tree: ast.Module) -> set[str]:
    """The modules a module imports anywhere (also inside functions). A relative import of a top-level file
    (`from .configuration_globalre import X`, the Hub remote-code form) names that file; `from package import name`
    also names `package.name`, which is a module when the package has one of that name."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = repository_modules()
    return {name: (imported_names(tree) & modules.keys()) - {name} for name, tree in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as the list of its modules (the first repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_the_repository_modules():
    graph = import_graph()
    assert {"train", "model_card", "globalre_training.options", "globalre_training.arguments"} <= graph.keys()
    assert "globalre_training.options" in graph["model_card"]  # the edge the cycle check is about
    assert find_cycle(graph) is None


def test_no_function_of_the_training_run_is_longer_than_80_lines():
    paths = [REPO / "train.py", *sorted((REPO / "globalre_training").glob("*.py"))]
    long = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{path.name}:{node.name} ({length} lines)")
    assert not long
