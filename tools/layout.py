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


def summary(path: Path) -> str:
    """The first sentence of a module's docstring, on one line ("" if it has none)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


MAP_START = "<!-- module map: drawn from the code by `python tools/layout.py`; tests/test_layering.py checks it -->"
MAP_END = "<!-- end of the module map -->"


def module_map(root: Path) -> str:
    """The README's module map: every module of the project, what it is (its docstring's first sentence),
    and which of the project's modules it imports."""
    graph = import_graph(root)
    rows = ["| module | what it is | imports (of ours) |", "| --- | --- | --- |"]
    for module, path in modules(root).items():
        if path.name == "__main__.py":
            continue
        deps = ", ".join(sorted(d.removeprefix("xlmr_demo.") for d in graph[module])) or "nothing"
        rows.append(f"| `{path.relative_to(root)}` | {summary(path).replace('|', '/')} | {deps} |")
    return "\n".join([MAP_START, *rows, MAP_END])


def write_module_map(readme: Path, root: Path) -> bool:
    """Put the current module map into ``readme`` (between its markers); whether it changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(MAP_START), text.index(MAP_END) + len(MAP_END)
    new = text[:start] + module_map(root) + text[end:]
    readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    import sys

    root = Path(__file__).resolve().parents[1]
    cycles = import_cycles(import_graph(root))
    for cycle in cycles:
        print("import circle:", " <-> ".join(cycle), file=sys.stderr)
    changed = write_module_map(root / "README.md", root)
    print("README.md: module map " + ("updated" if changed else "already current"))
    sys.exit(1 if cycles else 0)
