"""Builds the optional compiled hot path: mypyc compiles the safety core, the loop and the fake IMU into build/compiled/.

    python bench/build_compiled.py [--jobs N] [--strict]   (needs the `compiled` extra: pip install -e '.[compiled]')

Every module of monitor/safety/ and monitor/service/loop/, plus drivers/fake.py,
is a candidate, compiled from the sources exactly as they are.
A module that mypyc rejects (a type error, a construct it cannot compile) is
left out with a line saying why, and the rest are built without it; the build
fails only when nothing compiles, or, with --strict (what CI runs), when any
candidate was skipped: a module of the safety core or the loop that stops
compiling fails CI. The sources stay ordinary annotated Python: what mypyc asks
for is a more precise type, never a construct of its own.

Nothing uses the build unless asked: TREADGUARD_COMPILED=1 in the environment
makes `import monitor` put the compiled modules first (monitor/compiled.py),
and only while every source they were built from is unchanged; without it the
pure-Python modules run, byte for byte. `treadguard --version` says which runs.
mypyc was chosen over Cython because it compiles ordinary annotated Python with
no second source language, so the pure modules stay the only source.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.compiled import BUILD_DIR, MANIFEST, source_digests  # noqa: E402

# The safety core and the loop's room, whole, and the fake IMU that replay and the bench read through.
CANDIDATES = sorted(p for folder in (ROOT / "monitor" / "safety", ROOT / "monitor" / "service" / "loop")
                    for p in folder.glob("*.py") if p.name != "__init__.py") + [
    ROOT / "drivers" / "fake.py", ROOT / "monitor" / "service" / "sessions" / "replay.py",
    ROOT / "monitor" / "formats" / "trace_reader.py"]
# mypy type-checks what the candidates import but reports only the candidates' own errors:
# a module that is not compiled need not satisfy mypyc.
MYPY_FLAGS = ["--follow-imports=silent"]
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):(?P<line>\d+): error: (?P<message>.*)$")

# Run in a child process so that each attempt starts from a clean mypy and setuptools.
SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify
out, temp, jobs, *args = sys.argv[1:]
setup(name="treadguard-compiled", py_modules=[],
      ext_modules=mypycify(args, opt_level="3", strip_asserts=False, target_dir=temp + "/c"),
      script_args=["-q", "build_ext", "--build-lib", out, "--build-temp", temp + "/o", "-j", jobs])
"""


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def attempt(paths: list[Path], out: Path, temp: Path, jobs: int) -> tuple[bool, dict[Path, str], str]:
    """(built, {candidate: first error}, output) for one mypyc run over `paths`."""
    command = [sys.executable, "-c", SETUP, str(out), str(temp), str(jobs), *MYPY_FLAGS,
               *(str(p) for p in paths)]
    run = subprocess.run(command, cwd=temp, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = run.stdout + run.stderr
    errors: dict[Path, str] = {}
    for line in output.splitlines():
        found = ERROR.match(line.strip())
        if found:
            path = (ROOT / found["path"]).resolve()
            errors.setdefault(path, f"line {found['line']}: {found['message']}")
    return run.returncode == 0, errors, output


def build(jobs: int, strict: bool = False) -> int:
    started = time.monotonic()
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        print("no C compiler (gcc) found: install one (apt install gcc python3-dev) and run again", file=sys.stderr)
        return 1
    try:
        import mypyc  # noqa: F401
    except ImportError:
        print("mypyc is not installed: pip install -e '.[compiled]' and run again", file=sys.stderr)
        return 1
    paths = list(CANDIDATES)
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="treadguard-mypyc-") as temp_name:
        temp = Path(temp_name)
        out = temp / "out"
        while paths:
            shutil.rmtree(out, ignore_errors=True)
            built, errors, output = attempt(paths, out, temp, jobs)
            if built:
                break
            rejected = [p for p in paths if p in errors]
            if not rejected:  # a failure not pinned on a candidate (compiler, environment): say it all
                print(output, file=sys.stderr)
                print("mypyc failed for a reason not in any one module (above); nothing was built", file=sys.stderr)
                return 1
            for path in rejected:
                skipped[module_name(path)] = errors[path]
                print(f"skipped {module_name(path)}: mypyc rejects it ({errors[path]})")
                paths.remove(path)
        if not paths:
            print("no module compiled; nothing was built", file=sys.stderr)
            return 1
        shutil.rmtree(BUILD_DIR, ignore_errors=True)
        shutil.copytree(out, BUILD_DIR)
    compiled = {module_name(p): _extension(module_name(p)) for p in paths}
    support = {f.name.split(".")[0]: f.name for f in BUILD_DIR.glob("*__mypyc*.so")}
    import mypy.version

    manifest = {
        "python": sys.implementation.cache_tag,
        "mypy": mypy.version.__version__,
        "modules": compiled,
        "support": support,
        "skipped": skipped,
        "sources": source_digests(list(compiled)),
    }
    (BUILD_DIR / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    took_s = time.monotonic() - started
    print(f"compiled {len(compiled)} of {len(CANDIDATES)} modules into {BUILD_DIR.relative_to(ROOT)}/ in "
          f"{took_s:.0f} s (mypy {mypy.version.__version__}): {', '.join(compiled)}")
    print("use it with TREADGUARD_COMPILED=1; `treadguard --version` says which build runs")
    if strict and skipped:
        print(f"--strict: {len(skipped)} module(s) of the safety core or the loop did not compile "
              f"({', '.join(sorted(skipped))}); fix them so that the compiled build covers them all", file=sys.stderr)
        return 1
    return 0


def _extension(module: str) -> str:
    parts = module.split(".")
    found = sorted((BUILD_DIR.joinpath(*parts[:-1])).glob(parts[-1] + ".*.so"))
    return str(found[0].relative_to(BUILD_DIR))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="C files compiled in parallel")
    parser.add_argument("--strict", action="store_true",
                        help="fail (exit 1) when any candidate module is skipped: what CI runs")
    args = parser.parse_args()
    return build(args.jobs, args.strict)


if __name__ == "__main__":
    sys.exit(main())
