"""The house rules: no import cycle anywhere in the package, and each room imports only what its
``__init__`` docstring allows (docs/ARCHITECTURE.md).

The rules are read from the docstrings themselves (``Must not import: ...`` and ``From X imports
only: ...`` lines), so what a package says and what is enforced cannot drift apart. Imports are
read from the source with ``ast``: module-level, function-level and ``TYPE_CHECKING`` imports
count, and so do ``importlib.import_module("...")`` and ``__import__("...")`` with a literal name,
so neither a cycle nor a forbidden import can hide behind a lazy import.
"""

from __future__ import annotations

import ast
import fnmatch
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


def _dynamic_import(node: ast.AST) -> str | None:
    """The literal module name of ``importlib.import_module("x")`` / ``__import__("x")``."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return None
    f = node.func
    called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return node.args[0].value if called in ("import_module", "__import__") else None


def _absolute(target: str, name: str, is_pkg: bool) -> str:
    """A relative module name (leading dots) made absolute from module ``name``."""
    level = len(target) - len(target.lstrip("."))
    if not level:
        return target
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target.lstrip(".")] if target.lstrip(".") else []))


def imports_of(name: str) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in its source."""
    path = MODULES[name]
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if (dynamic := _dynamic_import(node)) is not None:
            targets = [_absolute(dynamic, name, is_pkg)]
        elif isinstance(node, ast.Import):
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
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
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


def _rules() -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """package -> (forbidden names, {prefix: the only modules allowed under it}) from the
    ``Must not import:`` / ``From X imports only:`` lines of every package docstring. Names
    without a dot prefix that are package rooms (``engine``, ``ros.node``) are made absolute;
    others (``rclpy``, ``*_msgs``) are third-party top-level names, ``*`` a wildcard."""
    rules = {}
    for name, path in MODULES.items():
        if path.name != "__init__.py" or name == PKG:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        forbidden: list[str] = []
        only: dict[str, list[str]] = {}
        for line in doc.splitlines():
            if line.startswith("Must not import:"):
                forbidden = [w.strip() for w in line.split(":", 1)[1].split(",") if w.strip()]
            elif line.startswith("From ") and " imports only:" in line:
                prefix, allowed = line[5:].split(" imports only:")
                only[f"{PKG}.{prefix.strip()}"] = [f"{PKG}.{w.strip()}" for w in allowed.split(",")]
        rules[name] = ([f"{PKG}.{f}" if f.split(".")[0] in ROOMS else f for f in forbidden], only)
    return rules


ROOMS = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
RULES = _rules()


def _external_imports(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
        elif (dynamic := _dynamic_import(node)) is not None and not dynamic.startswith("."):
            out.add(dynamic.split(".")[0])
    return out


def _matches(target: str, rule: str) -> bool:
    if "*" in rule:
        return fnmatch.fnmatch(target.split(".")[0], rule)
    return target == rule or target.startswith(rule + ".")


def test_every_package_states_its_import_rules():
    for name in (m for m, p in MODULES.items() if p.name == "__init__.py" and m != PKG):
        assert RULES[name][0], f"{name}'s docstring has no 'Must not import:' line"


def test_the_rules_are_read():
    forbidden, only = RULES[f"{PKG}.engine.genome"]
    assert f"{PKG}.engine.accel" in forbidden and "rclpy" in forbidden
    assert only == {f"{PKG}.engine.core": [f"{PKG}.engine.core.connectome"]}
    assert "*_msgs" in RULES[f"{PKG}.engine"][0]


@pytest.mark.parametrize("room", sorted(RULES))
def test_rooms_import_only_what_they_may(room):
    forbidden, only = RULES[room]
    bad = []
    for m in (m for m in MODULES if m == room or m.startswith(room + ".")):
        for target in GRAPH[m] | _external_imports(m):
            if any(_matches(target, f) for f in forbidden):
                bad.append(f"{m} imports {target}")
            for prefix, allowed in only.items():
                if _matches(target, prefix) and not any(_matches(target, a) for a in allowed):
                    bad.append(f"{m} imports {target} (from {prefix} only {allowed})")
    assert not bad, "\n".join(bad)
