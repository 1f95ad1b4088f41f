"""The shape of the code: small modules, no import cycles, and only entry points know the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "samskaping"
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _top_level_imports(path: Path, known: set[str]) -> set[str]:
    """samskaping modules imported when ``path`` is imported (not inside functions)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            names = []
            if isinstance(sub, ast.Import):
                names = [alias.name for alias in sub.names]
            elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                names = [sub.module] + [f"{sub.module}.{alias.name}" for alias in sub.names]
            found.update(name for name in names if name in known)
    return found


def test_no_module_is_over_450_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_no_import_cycles_between_modules() -> None:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for imported in _top_level_imports(path, set(modules)):
            # importing a submodule runs its package's __init__ first, which is not a cycle of ours
            if imported != name and not name.startswith(imported + "."):
                graph.add_edge(name, imported)
    assert list(nx.simple_cycles(graph)) == []


def test_library_modules_never_import_the_command_line_layer() -> None:
    offenders = []
    for name, path in _modules().items():
        if name.startswith("samskaping.cli") or name.endswith("__main__"):
            continue
        text = path.read_text(encoding="utf-8")
        if "samskaping.cli" in text and ("import samskaping.cli" in text or "from samskaping.cli" in text):
            offenders.append(name)
    assert offenders == []
