"""The opt-in compiled build: it makes every decision the pure modules make, and runs only when asked and current.

The decisions test replays all of ../shared/data in a child process with
TREADGUARD_COMPILED=1 and compares each trip time, reason and detail with
tests/data/replay_decisions.json, as tests/test_replay_decisions.py does for the
pure modules. It needs the build (`python bench/build_compiled.py`; CI makes it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.record_decisions import OUT, shared_traces
from monitor import compiled

ROOT = Path(__file__).resolve().parents[1]
PATHS = shared_traces()
IS_BUILT = (compiled.BUILD_DIR / compiled.MANIFEST).is_file() and json.loads(
    (compiled.BUILD_DIR / compiled.MANIFEST).read_text(encoding="utf-8")).get("python") == sys.implementation.cache_tag

CHILD = """
import json
from monitor import compiled
from bench.record_decisions import decisions, shared_traces
print(json.dumps({"build": compiled.BUILD, "decisions": decisions(shared_traces())}))
"""


@pytest.mark.skipif(not PATHS, reason="../shared/data not beside the repository")
@pytest.mark.skipif(not IS_BUILT, reason="no compiled build for this Python: run `python bench/build_compiled.py` (CI does, for 3.11)")
def test_the_compiled_build_makes_every_recorded_decision_on_the_shared_recordings():
    child = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, compiled.ENV: "1"}, timeout=600)
    assert child.returncode == 0, child.stderr[-2000:]
    found = json.loads(child.stdout)
    assert found["build"].startswith("compiled"), f"the compiled build did not run: {child.stderr.strip()}"
    expected = json.loads(OUT.read_text(encoding="utf-8"))
    got = found["decisions"]
    changed = {name: (expected.get(name), now) for name, now in got.items() if expected.get(name) != now}
    missing = sorted(set(expected) - set(got))
    assert not changed and not missing, (
        f"compiled: {len(changed)} decisions differ from the pure modules' (first: {dict(list(changed.items())[:3])}), "
        f"{len(missing)} traces missing")


def test_without_the_opt_in_the_pure_python_modules_run():
    child = subprocess.run(
        [sys.executable, "-c", "import sys; from monitor import compiled; import monitor.safety.motion as m; "
                               "print(compiled.BUILD); print(m.__file__.endswith('.py'))"],
        cwd=ROOT, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != compiled.ENV})
    assert child.stdout.split() == ["pure", "Python", "True"] and child.stderr == ""


def _manifest(build_dir: Path, sources: dict[str, str]) -> None:
    build_dir.mkdir(parents=True)
    (build_dir / compiled.MANIFEST).write_text(json.dumps({
        "python": sys.implementation.cache_tag, "mypy": "0", "modules": {"monitor.safety.drift": "drift.so"},
        "support": {}, "skipped": {}, "sources": sources}), encoding="utf-8")


def test_a_build_older_than_its_sources_is_not_used_and_says_which_source_changed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compiled, "BUILD_DIR", tmp_path / "compiled")
    sources = compiled.source_digests(["monitor.safety.drift"])
    _manifest(tmp_path / "compiled", {**sources, "monitor.safety.drift": "0" * 64})
    assert compiled.use_compiled_build() is False
    err = capsys.readouterr().err
    assert "monitor.safety.drift changed since it was built" in err and "running pure Python" in err
    assert compiled.BUILD == "pure Python"


def test_a_build_whose_files_are_gone_is_not_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compiled, "BUILD_DIR", tmp_path / "compiled")
    _manifest(tmp_path / "compiled", compiled.source_digests(["monitor.safety.drift"]))
    assert compiled.use_compiled_build() is False
    assert "drift.so is missing" in capsys.readouterr().err


def test_no_build_at_all_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compiled, "BUILD_DIR", tmp_path / "nothing")
    assert compiled.use_compiled_build() is False
    err = capsys.readouterr().err
    assert "there is no compiled build" in err and "python bench/build_compiled.py" in err


def test_a_build_for_another_python_is_not_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compiled, "BUILD_DIR", tmp_path / "compiled")
    _manifest(tmp_path / "compiled", {})
    manifest = json.loads((tmp_path / "compiled" / compiled.MANIFEST).read_text())
    manifest["python"] = "cpython-30"
    (tmp_path / "compiled" / compiled.MANIFEST).write_text(json.dumps(manifest))
    assert compiled.use_compiled_build() is False
    assert "built for cpython-30" in capsys.readouterr().err


def test_the_version_names_no_compiled_build_without_the_opt_in():
    child = subprocess.run([sys.executable, "-m", "monitor.cli.main", "--version"], cwd=ROOT, capture_output=True,
                           text=True, env={k: v for k, v in os.environ.items() if k != compiled.ENV})
    assert child.returncode == 0 and child.stdout.startswith("treadguard ") and "compiled" not in child.stdout
