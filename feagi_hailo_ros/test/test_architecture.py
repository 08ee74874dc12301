"""The house rules: no import cycle anywhere in the package, and each room imports only what its
``__init__`` docstring allows (docs/ARCHITECTURE.md).

Imports are read from the source with ``ast``: module-level, function-level and
``TYPE_CHECKING`` imports all count, so a cycle cannot hide behind a lazy import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG_ROOT = Path(__file__).resolve().parents[1] / "feagi_hailo_ros"
PKG = "feagi_hailo_ros"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG_ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG_ROOT.rglob("*.py")}


MODULES = _modules()


def imports_of(name: str) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in its source."""
    path = MODULES[name]
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # "from pkg import module" imports the module itself
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
        for t in targets:
            # the longest known module prefix of t (a.b.C -> a.b)
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t.startswith(PKG) and t != name:
                found.add(t)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def _cycle() -> list[str] | None:
    """One import cycle as a list of modules, or None. Package __init__ re-exports count too,
    except the edge from a package to its own submodules (importing a.b runs a/__init__ first,
    which is not a cycle of the code's making)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if n.startswith(m + ".") or m.startswith(n + ".") and MODULES[n].name == "__init__.py":
                continue
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_graph_sees_imports():
    # The checker itself must see relative, lazy and TYPE_CHECKING imports.
    assert f"{PKG}.engine.core.connectome" in GRAPH[f"{PKG}.engine.core.engine"]
    assert f"{PKG}.engine.accel.onnx_export" in GRAPH[f"{PKG}.engine.accel.onnx_integrator"]
    assert f"{PKG}.hailo" in GRAPH[f"{PKG}.engine.accel.hailo_integrator"]


def test_no_import_cycle():
    assert _cycle() is None, " -> ".join(_cycle() or [])


# room -> rooms (module prefixes) it must never import
FORBIDDEN = {
    f"{PKG}.engine": [f"{PKG}.ros", f"{PKG}.cli", "rclpy"],
    f"{PKG}.engine.core": [f"{PKG}.engine.genome", f"{PKG}.engine.accel", f"{PKG}.hailo"],
    f"{PKG}.engine.genome": [f"{PKG}.engine.accel", f"{PKG}.hailo"],
    f"{PKG}.engine.accel": [f"{PKG}.engine.genome"],
    f"{PKG}.hailo": [f"{PKG}.engine", f"{PKG}.ros", f"{PKG}.cli", "rclpy"],
    f"{PKG}.ros.encoders": ["rclpy"],
}


def _external_imports(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_rooms_import_only_what_they_may(room):
    inside = [m for m in MODULES if m == room or m.startswith(room + ".")]
    assert inside, f"no modules under {room}"
    bad = []
    for m in inside:
        for target in GRAPH[m] | _external_imports(m):
            if any(target == f or target.startswith(f + ".") for f in FORBIDDEN[room]):
                bad.append(f"{m} imports {target}")
    assert not bad, "\n".join(bad)


def test_every_package_says_what_it_owns_and_must_not_import():
    for name, path in MODULES.items():
        if path.name == "__init__.py" and name != PKG:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert doc, f"{name} has no docstring"
