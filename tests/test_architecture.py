"""The rooms hold: the safety core stays pure, data flows one way, and no module imports itself in a circle.

These read the source (every import statement, at module level or inside a
function), so a new file is checked the moment it exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "drivers", "bench")

# What the safety core may import at run time: pure standard-library modules, its own
# room, and the driver interface types (the shapes of samples and health events).
SAFETY_STDLIB = {"__future__", "abc", "bisect", "collections", "dataclasses", "enum", "functools",
                 "heapq", "itertools", "math", "typing"}
SAFETY_PROJECT = {"drivers.interfaces"}
# Only for type hints (under `if TYPE_CHECKING:`): the configuration's pure declarations.
SAFETY_TYPE_ONLY = {"monitor.config.schema"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _all_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _all_modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, package: str = "") -> list[tuple[str, bool]]:
    """(imported module, is_type_only) for every import in the file, nested ones included.
    `from pkg import name` counts as pkg.name when that is a project module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    if not package and path.is_relative_to(ROOT):
        package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.body:
                    visit_one(sub, True)
                for sub in child.orelse:
                    visit_one(sub, type_only)
                continue
            visit_one(child, type_only)

    def visit_one(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, type_only))
        visit(node, type_only)

    visit(tree, False)
    return found


def _project_graph(include_type_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for imported, type_only in _imports(path):
            if type_only and not include_type_only:
                continue
            if imported in MODULES and imported != name and not path.name == "__init__.py":
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_no_module_imports_itself_in_a_circle_not_even_through_a_lazy_or_type_only_import():
    assert _cycles(_project_graph(include_type_only=True)) == []


SAFETY_MODULES = sorted(n for n in MODULES if n.startswith("monitor.safety."))


@pytest.mark.parametrize("module", SAFETY_MODULES)
def test_the_safety_core_imports_nothing_that_does_io(module):
    wrong = []
    for imported, type_only in _imports(MODULES[module]):
        top = imported.split(".")[0]
        if type_only:
            if imported not in SAFETY_TYPE_ONLY and not imported.startswith("monitor.safety"):
                wrong.append(f"{imported} (type hints may use only {sorted(SAFETY_TYPE_ONLY)})")
        elif not (top in SAFETY_STDLIB or imported.startswith("monitor.safety") or imported in SAFETY_PROJECT
                  or imported == "monitor.safety"):
            wrong.append(imported)
    assert wrong == [], f"{module} imports {wrong}: the safety core must stay pure (no I/O, no clock)"


def test_the_import_check_sees_a_forbidden_import(tmp_path):
    """The check itself: a safety module that imported time or os would be caught."""
    sample = tmp_path / "sample.py"
    sample.write_text("import math\nimport time\ndef f():\n    from os import path\n", encoding="utf-8")
    names = {name for name, _ in _imports(sample)}
    assert {"math", "time", "os"} <= names


def test_the_safety_room_is_where_the_core_lives():
    assert {"monitor.safety.core", "monitor.safety.latch", "monitor.safety.health", "monitor.safety.motion",
            "monitor.safety.drift", "monitor.safety.overspeed", "monitor.safety.mount",
            "monitor.safety.verdict"} <= set(SAFETY_MODULES)


def test_drivers_never_import_the_monitor():
    wrong = {name: sorted(i for i, _ in _imports(path) if i.split(".")[0] in ("monitor", "bench"))
             for name, path in MODULES.items() if name.startswith("drivers")}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_commands_share_helpers_through_cli_common_not_the_parser():
    wrong = [name for name, path in MODULES.items()
             if name.startswith("monitor.cli.") and name != "monitor.cli.main"
             and any(i == "monitor.cli.main" for i, _ in _imports(path))]
    assert wrong == []


def test_the_core_and_formats_never_reach_up_into_the_service_or_the_command_line():
    """One-way data flow: safety <- config/formats <- service <- cli."""
    lower = ("monitor.safety", "monitor.config", "monitor.formats")
    upper = ("monitor.service", "monitor.cli", "bench")
    wrong = {name: sorted(i for i, _ in _imports(path) if i.startswith(upper))
             for name, path in MODULES.items() if name.startswith(lower)}
    assert {k: v for k, v in wrong.items() if v} == {}


# The layers, lowest first: a module may import its own layer and those below, never one above.
LAYERS = (
    ("drivers",),
    ("monitor.safety",),
    ("monitor.config", "monitor.formats"),
    ("monitor.service.loop", "monitor.service.outputs", "monitor.service.trips"),
    ("monitor.sim", "monitor.bridge"),
    ("monitor.service.sessions",),
    ("monitor.cli",),
    ("bench",),
)


def _layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def test_no_import_runs_back_up_from_a_lower_layer_to_a_higher_one():
    wrong = {}
    for name, path in MODULES.items():
        own = _layer(name)
        if own is None:
            continue
        above = sorted(i for i, type_only in _imports(path) if not type_only and (_layer(i) or 0) > own)
        if above:
            wrong[name] = above
    assert wrong == {}, f"imports that run back up the layers {LAYERS}: {wrong}"


def test_every_project_module_sits_in_a_layer():
    assert [name for name in MODULES if _layer(name) is None and name not in ("monitor", "monitor.compiled", "monitor.service")] == []


def test_only_monitor_and_drivers_are_installed_and_no_installed_module_imports_a_bench_script():
    import tomllib

    found = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert found["packages"]["find"]["include"] == ["monitor*", "drivers*"]
    wrong = {name: sorted(i for i, _ in _imports(path) if i.split(".")[0] == "bench")
             for name, path in MODULES.items() if not name.startswith("bench")}
    assert {k: v for k, v in wrong.items() if v} == {}
    assert not (ROOT / "bench" / "sim").exists(), "the simulator is product: it lives in monitor/sim/"


def test_every_module_says_its_one_job_in_its_first_line():
    wrong = [name for name, path in MODULES.items()
             if not path.read_text(encoding="utf-8").lstrip().startswith('"""')
             or len(path.read_text(encoding="utf-8").lstrip().splitlines()[0].strip('"')) < 12]
    assert wrong == []
