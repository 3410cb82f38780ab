"""The package's own layout, read from its source: who imports whom, import circles, the README's module map.

Every import counts, those under ``TYPE_CHECKING`` and those deferred into functions too: a circle
through a deferred import still ties two modules together for whoever reads or changes them.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = ("xlmr_demo", "finetune")


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of :data:`PACKAGES` under ``root``."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    target = node.module or ""
    if node.level:
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        target = ".".join(base + ([node.module] if node.module else []))
    # "from . import saved" names a module; "from .saved import load" names a module's attribute
    return [f"{target}.{alias.name}" for alias in node.names] + [target]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the project -> the project's modules it imports (anywhere in its source)."""
    sources = modules(root)
    graph = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n for node in ast.walk(tree) for n in _imported(node, module, path.name == "__init__.py")}
        graph[module] = {n for n in names if n in sources and n != module and not module.startswith(n + ".")}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: each a sorted list of the modules that import each other (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return sorted(cycles)
