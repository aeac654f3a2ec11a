"""The library's shape: an import graph without cycles, nothing from training or bench, settings read in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import maskface

PACKAGE = Path(maskface.__file__).parent
ROOT = PACKAGE.parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports at run time, at any depth (``if TYPE_CHECKING:`` blocks left out)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)  # `from . import layers`
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def library_graph() -> dict[str, set[str]]:
    sources = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imported_modules(path) if m in sources and m != name} for name, path in sources.items()}


def test_the_import_graph_has_no_cycle():
    graph = library_graph()
    done: set[str] = set()

    def walk(node: str, trail: list[str]) -> None:
        if node in trail:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(node) :] + [node]))
        if node in done:
            return
        for target in sorted(graph[node]):
            walk(target, trail + [node])
        done.add(node)

    for node in sorted(graph):
        walk(node, [])
    assert graph["maskface.sync"] >= {"maskface.labels"}  # the test sees real edges


def test_the_library_imports_neither_training_nor_bench():
    for path in PACKAGE.rglob("*.py"):
        outside = {m for m in imported_modules(path) if m.split(".")[0] in ("training", "bench", "app", "tests")}
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}"


def test_only_the_configuration_module_reads_the_environment():
    readers = sorted(
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv" in path.read_text(encoding="utf-8")
    )
    assert readers == ["maskface/config.py"]
