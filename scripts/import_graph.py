"""The package's import graph, read from the source (nothing is imported): each module's imports of other
stylegram modules, and every import circle. Exits 1 when there is a circle.

Usage:
    python scripts/import_graph.py            # the circles, and the graph's size
    python scripts/import_graph.py --edges    # every arrow, module → module it imports
    python scripts/import_graph.py --layers   # the modules grouped by package, with the packages each imports

Imports under ``if TYPE_CHECKING:`` and inside functions count too: a circle through a function-level import
still means two modules that cannot be understood apart.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "stylegram"


def module_name(path: Path) -> str:
    parts = ["stylegram", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The stylegram modules ``path`` imports (``from stylegram.x import y`` counts ``stylegram.x.y`` when that is
    a module, else ``stylegram.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module)
    return found - {module_name(path)}


def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imports_of(path, modules) for path in paths}


def circles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Each strongly connected group of more than one module (Tarjan's algorithm)."""
    arrows = edges
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> Iterator[list[str]]:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(arrows.get(module, ())):
            if target not in index:
                yield from visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                yield sorted(group)

    sys.setrecursionlimit(10_000)
    for module in sorted(arrows):
        if module not in index:
            yield from visit(module)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="print every arrow")
    parser.add_argument("--layers", action="store_true", help="print the packages each package imports")
    args = parser.parse_args()
    edges = graph()
    if args.edges:
        for module, targets in edges.items():
            for target in sorted(targets):
                print(f"{module} -> {target}")
    if args.layers:
        packages: dict[str, set[str]] = {}
        for module, targets in edges.items():
            home = ".".join(module.split(".")[:2])
            packages.setdefault(home, set()).update(".".join(target.split(".")[:2]) for target in targets)
        for home, targets in sorted(packages.items()):
            print(f"{home}: {', '.join(sorted(targets - {home})) or '-'}")
    found = list(circles(edges))
    for group in found:
        print("circle: " + " ⇄ ".join(group))
    arrows = sum(len(targets) for targets in edges.values())
    print(f"{len(edges)} modules, {arrows} imports between them, {len(found)} circles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
