"""The opt-in compiled build: with TREADGUARD_COMPILED=1, modules mypyc built into build/compiled/ load first.

bench/build_compiled.py makes the build and its manifest. It is used only when
asked for and only while every source it was built from (the compiled modules
and every project module they import, followed through) is byte for byte what
was compiled; otherwise a warning on stderr says why and the pure-Python
modules run, which are always the reference. `BUILD` says which build runs.
"""

from __future__ import annotations

import ast
import copyreg
import dataclasses
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / "build" / "compiled"
MANIFEST = "manifest.json"
ENV = "TREADGUARD_COMPILED"
PROJECT_PACKAGES = ("monitor", "drivers")
# Imported on the way in, but not what the compiled code was built from: editing them needs no rebuild.
NOT_INPUTS = {"monitor", "monitor.compiled"}

BUILD = "pure Python"  # what runs; use_compiled_build() changes it when the compiled modules are in place


def _source(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path) -> set[str]:
    """The project modules this file imports (and the packages on the way to them)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] in PROJECT_PACKAGES:
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


def source_digests(modules: list[str]) -> dict[str, str]:
    """sha256 of each module's source and of every project module it imports, followed through."""
    digests: dict[str, str] = {}
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in digests or module in NOT_INPUTS:
            continue
        path = _source(module)
        if path is None:  # a name imported from a module, not a module
            continue
        digests[module] = hashlib.sha256(path.read_bytes()).hexdigest()
        todo.extend(_imports(path) - set(digests))
    return digests


def _rebuild(cls: type, values: dict) -> object:
    return cls(**values)


def _reduce_frozen(obj: object) -> tuple:
    return _rebuild, (type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})


class _CompiledLoader(importlib.machinery.ExtensionFileLoader):
    """Loads a compiled module and keeps its frozen dataclasses picklable.

    mypyc's frozen dataclasses unpickle by setting attributes, which they refuse;
    settings cross to worker processes (replay --jobs), so they pickle by their
    constructor instead, as the pure classes' values would be.
    """

    def exec_module(self, module) -> None:  # noqa: ANN001 (the import system's signature)
        super().exec_module(module)
        for value in list(vars(module).values()):
            if (isinstance(value, type) and value.__module__ == module.__name__ and dataclasses.is_dataclass(value)
                    and value.__dataclass_params__.frozen  # type: ignore[attr-defined]
                    and all(f.init for f in dataclasses.fields(value))):
                copyreg.pickle(value, _reduce_frozen)


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled extension for each module the manifest lists; everything else as usual."""

    def __init__(self, files: dict[str, Path]) -> None:
        self._files = files

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001 (the import system's signature)
        file = self._files.get(name)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(
            name, file, loader=_CompiledLoader(name, str(file)))


def _why_not(manifest: dict) -> str | None:
    if manifest.get("python") != sys.implementation.cache_tag:
        return f"it was built for {manifest.get('python')}, this is {sys.implementation.cache_tag}"
    now = source_digests(list(manifest["modules"]))
    changed = sorted(m for m, digest in manifest["sources"].items() if now.get(m) != digest)
    changed += sorted(set(now) - set(manifest["sources"]))
    if changed:
        return f"{', '.join(changed)} changed since it was built"
    missing = [f for f in [*manifest["modules"].values(), *manifest["support"].values()]
               if not (BUILD_DIR / f).is_file()]
    if missing:
        return f"{', '.join(missing)} is missing"
    return None


def use_compiled_build() -> bool:
    """Put the compiled modules first; True if they are. Call before any of them is imported."""
    global BUILD
    try:
        manifest = json.loads((BUILD_DIR / MANIFEST).read_text(encoding="utf-8"))
        why_not = _why_not(manifest)
    except FileNotFoundError:
        why_not = "there is no compiled build"
    except (OSError, ValueError, KeyError, SyntaxError) as err:
        why_not = f"its manifest cannot be read ({type(err).__name__}: {err})"
    if why_not is None:
        loaded = sorted(m for m in manifest["modules"] if m in sys.modules)
        if loaded:
            why_not = f"{', '.join(loaded)} was imported before monitor"
    if why_not is not None:
        print(f"treadguard: {ENV} is set but {why_not}; running pure Python "
              "(build it with `python bench/build_compiled.py`)", file=sys.stderr)
        return False
    files = {name: BUILD_DIR / f for name, f in {**manifest["modules"], **manifest["support"]}.items()}
    sys.meta_path.insert(0, _CompiledFinder(files))
    compiled = sorted(manifest["modules"])
    skipped = sorted(manifest["skipped"])
    BUILD = (f"compiled (mypyc {manifest['mypy']}): {', '.join(compiled)}"
             + (f"; pure Python: {', '.join(skipped)}" if skipped else ""))
    return True
