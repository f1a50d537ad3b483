"""The coffer package's layers, read from its imports (a static check of layers/coffer, every import counted, those
inside functions too): no import cycle, services see ports and the domain only, the domain sees nothing but itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "coffer"
#: the one module that imports where it builds (entrypoints/bootstrap.py: a function loads only what it runs)
COMPOSITION_ROOT = "coffer.entrypoints.bootstrap"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(everything the module imports, the coffer modules it imports inside a function or method)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    everything: set[str] = set()
    nested: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module:
                names = [child.module] + [f"{child.module}.{alias.name}" for alias in child.names]
            everything.update(names)
            if in_function:
                nested.update(n for n in names if n.startswith("coffer"))
            visit(child, inner)

    visit(tree, False)
    return everything, nested


MODULES = {_module(path): path for path in PACKAGE.rglob("*.py")}
IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def _coffer_edges(name: str) -> set[str]:
    return {target for target in IMPORTS[name][0] if target in MODULES and target != name}


def test_no_module_of_the_package_imports_itself_through_a_cycle() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def walk(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(_coffer_edges(name)):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                walk(target, [*path, target])
        state[name] = 2

    for name in sorted(MODULES):
        if name not in state:
            walk(name, [name])
    assert cycles == []


def test_only_the_composition_root_imports_coffer_modules_inside_functions() -> None:
    hiding = {name: sorted(nested) for name, (_, nested) in IMPORTS.items() if nested and name != COMPOSITION_ROOT}
    assert hiding == {}
    assert IMPORTS[COMPOSITION_ROOT][1], "the root builds on first use (if it stops, drop this exception)"


def test_services_depend_on_ports_and_the_domain_never_on_adapters_or_the_sdk() -> None:
    reaching = {name: sorted(target for target in imports if target.startswith(("coffer.adapters", "coffer.entrypoints",
                                                                               "botocore", "boto3")))
                for name, (imports, _) in IMPORTS.items() if name.startswith("coffer.services")}
    assert {name: targets for name, targets in reaching.items() if targets} == {}


def test_ports_and_the_domain_import_no_adapter_service_or_sdk() -> None:
    outward = ("coffer.adapters", "coffer.services", "coffer.entrypoints", "botocore", "boto3")
    reaching = {name: sorted(t for t in imports if t.startswith(outward))
                for name, (imports, _) in IMPORTS.items() if name.startswith(("coffer.ports", "coffer.domain"))}
    assert {name: targets for name, targets in reaching.items() if targets} == {}
