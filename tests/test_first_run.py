"""The first run, as a person meets it: the README's test command without Graphviz skips with a
reason, and what the commands print fits an 80-column terminal (or a narrower one) and says
what it is doing while it works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def test_without_graphviz_the_diagram_tests_skip_with_a_reason_and_no_traceback(tmp_path):
    nothing = tmp_path / "bin"  # a PATH without Graphviz's `dot` (nor anything else)
    nothing.mkdir()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             str(ROOT / "tests" / "test_diagrams.py")],
                            env={**os.environ, "PATH": str(nothing)}, capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    assert result.stdout.count("SKIPPED [1]") == 3 and "Graphviz is not installed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr and "failed" not in result.stdout


@pytest.mark.parametrize("columns", ["80", "200", "60"])
def test_bench_list_and_the_example_config_fit_the_terminal_at_most_80_columns(columns, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", columns)
    limit = min(80, int(columns))
    assert main(["bench", "--list"]) == 0
    assert widest(capsys.readouterr().out) <= limit
    assert main(["config", "--example"]) == 0
    assert widest(capsys.readouterr().out) <= 80  # a file to copy: wrapped once, at 80


@pytest.mark.parametrize("columns", ["80", "60"])
def test_config_errors_fit_the_terminal(columns, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.chdir(tmp_path)  # a short name: a path longer than the line stays whole on a line of its own
    (tmp_path / "t.toml").write_text("[loop]\nrate_hz = 5000\nbogus = 1\n[imu]\nmount = [[1,0,0],[0,1,0],[0,0,-1]]\n")
    assert main(["config", "--check", "t.toml"]) == 2
    err = capsys.readouterr().err
    assert "loop.rate_hz is 5000.0" in " ".join(err.split()) and "3 problem(s)" in err
    assert widest(err) <= int(columns)


def test_bench_says_what_it_is_doing_as_it_goes_and_its_table_fits_80_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["bench", "stumble-fwd-2kmh", "walk-fwd-4kmh-10min", "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    said = captured.err.splitlines()
    assert said[0].startswith("treadguard bench: simulating 2 scenario(s)")
    assert sorted(line.split("done: ")[1].split(" (")[0] for line in said if "done: " in line) == [
        "stumble-fwd-2kmh", "walk-fwd-4kmh-10min"]
    assert widest(captured.out) <= 80 and widest(captured.err) <= 80


def test_ctrl_c_in_a_folder_replay_stops_cleanly_with_one_line_and_exit_130(tmp_path):
    import signal

    demo = ROOT / "monitor" / "demo" / "walk-then-stumble.csv.gz"
    for k in range(200):  # far more than are replayed before Ctrl-C arrives
        (tmp_path / f"t{k:03d}.csv.gz").symlink_to(demo)
    replay = subprocess.Popen([sys.executable, "-m", "monitor.cli.main", "replay", str(tmp_path), "--jobs", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              start_new_session=True)
    try:
        assert "TRIP" in replay.stdout.readline()  # it is under way
        os.killpg(replay.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole process group
        out, err = replay.communicate(timeout=60)
    finally:
        if replay.poll() is None:
            os.killpg(replay.pid, signal.SIGKILL)
            replay.wait()
    assert replay.returncode == 130
    assert err.splitlines() == [err.strip()] and err.startswith("treadguard: stopped (Ctrl-C) after ")
    assert "of 200 trace(s)" in err and "Traceback" not in err + out
