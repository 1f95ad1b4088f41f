"""The shape of the code: small modules, no import cycles, and only entry points know the command line.

The import graph counts every import a module can run: module-level ones, those inside functions and
methods (lazy imports are still dependencies), relative ones, and the dynamic loads of the registries
(a string constant naming a samskaping module, such as ``"samskaping.models.baseline:BaselineClassifier"``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "samskaping"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` written in ``importer``."""
    if level == 0:
        return module
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every samskaping module that ``path`` may import, at any depth of its code."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, name, path.name == "__init__.py")
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            found.update(submodules)
            # attributes (not submodules) come from the package or module itself
            if base in known and len(submodules) < len(node.names):
                found.add(base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            target = node.value.partition(":")[0]
            if target.startswith("samskaping.") and target in known:
                found.add(target)
    return found


def import_graph() -> nx.DiGraph:
    """samskaping modules and the imports between them (an edge importer -> imported)."""
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for imported in _imports(name, path, set(modules)):
            # importing a submodule runs its package's __init__ first, which is not a cycle of ours
            if imported != name and not name.startswith(imported + "."):
                graph.add_edge(name, imported)
    return graph


def test_no_module_is_over_400_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_no_import_cycles_counting_lazy_imports_and_registry_loads() -> None:
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert cycles == [], f"{len(cycles)} cycles, the shortest: {cycles[:3]}"


def test_the_graph_sees_lazy_imports_and_registry_entries() -> None:
    # the checks above mean something only if the graph holds the edges a module-level reader misses
    graph = import_graph()
    assert graph.has_edge("samskaping.models.registry", "samskaping.models.baseline")  # the registry's string entry
    assert graph.has_edge("samskaping", "samskaping.training")  # the package's lazy ``train``


def test_library_modules_never_import_the_command_line_layer() -> None:
    graph = import_graph()
    offenders = sorted(
        (name, imported)
        for name, imported in graph.edges
        if imported.startswith("samskaping.cli")
        and not name.startswith("samskaping.cli")
        and not name.endswith("__main__")
    )
    assert offenders == []


def test_init_files_only_re_export() -> None:
    """An ``__init__.py`` holds imports, ``__all__``, a docstring and constants, not functions or classes."""
    offenders = []
    for name, path in _modules().items():
        if path.name != "__init__.py" or name == "samskaping":  # the root's lazy public API is its job
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if defined:
            offenders.append(f"{name}: {', '.join(defined)}")
    assert offenders == []
