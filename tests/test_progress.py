"""The progress file survives: kill -9 at every step of a write, every truncation, a broken or
hand-edited file, a read-only place; `treadguard progress` shows, sets and resets it."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from monitor.cli.main import main
from monitor.config.schema import Config
from monitor.formats.progress_file import FORMAT, Progress, load_progress, save_progress
from monitor.safety.ceiling import CeilingEvent, CeilingEventKind
from monitor.safety.direction import Direction
from monitor.service.outputs.progress import ProgressKeeper
from tests.support import with_settings

BOUNDS = dict(start_mps=0.5, min_mps=0.3, max_mps=1.8, step_mps=0.1, break_days=14.0)
NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=timezone.utc)


def load(path, now=NOW):
    return load_progress(str(path), now=now, **BOUNDS)


def test_no_file_is_a_new_walker_at_the_starting_ceiling(tmp_path):
    loaded = load(tmp_path / "progress.json")
    assert loaded.is_new and loaded.message is None and loaded.progress.ceiling_mps == 0.5


def test_what_is_saved_is_what_is_loaded(tmp_path):
    path = tmp_path / "progress.json"
    save_progress(str(path), Progress(0.8, "2026-12-06T10:00:00Z", "2026-12-06T10:00:00Z",
                                      [{"at": "2026-12-06T10:00:00Z", "event": "rose", "ceiling_mps": 0.8}]))
    loaded = load(path)
    assert loaded.message is None and not loaded.is_new
    assert loaded.progress.ceiling_mps == 0.8 and loaded.progress.history[0]["event"] == "rose"


def test_every_truncation_gives_the_saved_ceiling_or_the_starting_one_with_a_message(tmp_path):
    path = tmp_path / "progress.json"
    save_progress(str(path), Progress(0.8, "2026-12-06T10:00:00Z", None, []))
    whole = path.read_bytes()
    for n in range(len(whole)):
        path.write_bytes(whole[:n])
        loaded = load(path)
        if loaded.message is None:  # only the trailing newline (or spaces) cut: still whole JSON
            assert loaded.progress.ceiling_mps == 0.8 and n >= len(whole.rstrip())
        else:
            assert loaded.progress.ceiling_mps == 0.5
            assert str(path) in loaded.message and "treadguard progress --reset" in loaded.message


@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe garbage", "not UTF-8"),
    (b"[1, 2]", "not a treadguard progress file"),
    (json.dumps({"format": FORMAT, "ceiling_mps": "fast"}).encode(), "not a number"),
    (json.dumps({"format": FORMAT, "ceiling_mps": True}).encode(), "not a number"),
    (json.dumps({"format": FORMAT, "ceiling_mps": 9.0}).encode(), "outside 0.3 to 1.8"),
    (json.dumps({"format": FORMAT, "ceiling_mps": 0.29}).encode(), "outside 0.3 to 1.8"),
    (json.dumps({"format": FORMAT, "ceiling_mps": 0.6, "history": 3}).encode(), "history is not a list"),
    (b"{" + b" " * 70000 + b"}", "larger than"),
])
def test_a_broken_or_hand_edited_file_says_what_is_wrong_and_starts_at_the_starting_ceiling(
        tmp_path, content, words):
    path = tmp_path / "progress.json"
    path.write_bytes(content)
    loaded = load(path)
    assert words in loaded.message and loaded.progress.ceiling_mps == 0.5


def test_a_hand_edited_file_within_bounds_is_taken(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"format": FORMAT, "ceiling_mps": 1.8}))
    assert load(path).progress.ceiling_mps == 1.8 and load(path).message is None


def test_an_unreadable_file_is_said_and_not_fatal(tmp_path):
    loaded = load(tmp_path)  # a folder where the file should be
    assert "cannot be read" in loaded.message and loaded.progress.ceiling_mps == 0.5


@pytest.mark.parametrize("days, lowered", [(14.0, True), (13.99, False)])
def test_a_long_break_starts_a_step_lower(tmp_path, days, lowered):
    path = tmp_path / "progress.json"
    last = (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    save_progress(str(path), Progress(0.8, last, last, []))
    loaded = load(path)
    assert loaded.progress.ceiling_mps == pytest.approx(0.7 if lowered else 0.8)
    assert (loaded.progress.history[-1]["event"] == "break") == lowered if lowered else not loaded.progress.history


def test_a_read_only_place_raises_and_leaves_nothing_behind():
    with pytest.raises(OSError):
        save_progress("/proc/treadguard-progress.json", Progress(0.6))
    with pytest.raises(OSError):
        save_progress("/nonexistent-folder/progress.json", Progress(0.6))


KILLER = textwrap.dedent("""
    import os, signal, sys
    from monitor.formats import atomic
    from monitor.formats.progress_file import Progress, save_progress
    step, path = int(sys.argv[1]), sys.argv[2]
    calls = [0]
    def dying(real):
        def call(*args, **kw):
            calls[0] += 1
            if calls[0] == step:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kw)
        return call
    for name in ("open", "write", "fsync", "replace", "chmod", "close"):
        setattr(atomic.os, name, dying(getattr(os, name)))
    save_progress(path, Progress(0.9, "2026-12-07T12:00:00Z", None, []))
    print("finished", calls[0])
""")


def test_a_kill_9_at_every_step_of_a_write_leaves_the_old_ceiling_or_the_new_one(tmp_path):
    path = tmp_path / "progress.json"
    old = Progress(0.6, "2026-12-06T12:00:00Z", None, [])
    step = 1
    outcomes = set()
    while True:
        save_progress(str(path), old)
        run = subprocess.run([sys.executable, "-c", KILLER, str(step), str(path)], capture_output=True,
                             text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
        loaded = load(path)
        assert loaded.message is None, (step, loaded.message)
        assert loaded.progress.ceiling_mps in (0.6, 0.9)
        if run.returncode == 0:
            assert loaded.progress.ceiling_mps == 0.9
            break
        assert run.returncode == -signal.SIGKILL, run.stderr
        outcomes.add(loaded.progress.ceiling_mps)
        step += 1
    assert step > 3 and 0.6 in outcomes  # killed at each of the write's steps before it finished


# -- the keeper, beside the loop ---------------------------------------------------------------

class FakeCore:
    def __init__(self, direction=Direction.BACKWARD, belt_mps=0.5):
        from types import SimpleNamespace

        self.direction = SimpleNamespace(state=direction)
        self.overspeed = SimpleNamespace(speed_mps=belt_mps)
        self.breaks = []
        self.ceiling = SimpleNamespace(after_break=lambda t, b: self.breaks.append(t))
        self.new_ceiling_events = []


def keeper_for(tmp_path, progress=None, **kw):
    config = with_settings(ceiling={"progress_file": str(tmp_path / "progress.json")})
    said = []
    keeper = ProgressKeeper(config, progress or Progress(0.5), say=said.append, threaded=False,
                            wall_clock=lambda: NOW.timestamp(), **kw)
    return keeper, said


def test_the_keeper_writes_each_rise_and_fall(tmp_path):
    from types import SimpleNamespace

    keeper, said = keeper_for(tmp_path)
    core = FakeCore()
    core.new_ceiling_events = [CeilingEvent(5.0, CeilingEventKind.ROSE, 0.6, 0.5),
                               CeilingEvent(5.0, CeilingEventKind.WARNED, 0.6, 0.7)]
    keeper.on_tick(SimpleNamespace(t_s=5.0), core)
    loaded = load(tmp_path / "progress.json")
    assert loaded.progress.ceiling_mps == 0.6 and [h["event"] for h in loaded.progress.history] == ["rose"]
    assert loaded.progress.last_session == "2026-12-07T12:00:00Z" and not said


def test_a_walker_back_after_a_long_break_is_lowered_a_step(tmp_path):
    from types import SimpleNamespace

    keeper, _ = keeper_for(tmp_path, Progress(0.8, None, "2026-11-01T12:00:00Z"))
    core = FakeCore()
    keeper.on_tick(SimpleNamespace(t_s=5.0), core)
    assert core.breaks == [5.0]


def test_a_disk_that_cannot_be_written_is_said_once_and_the_session_goes_on(tmp_path):
    from types import SimpleNamespace

    config = with_settings(ceiling={"progress_file": "/proc/treadguard-progress.json"})
    said = []
    keeper = ProgressKeeper(config, Progress(0.5), say=said.append, threaded=False)
    core = FakeCore()
    for k in range(3):
        core.new_ceiling_events = [CeilingEvent(k, CeilingEventKind.LOWERED, 0.4, 0.5)]
        keeper.on_tick(SimpleNamespace(t_s=float(k)), core)
    assert keeper.failures == 3 and len(said) == 1
    assert "could not be saved" in said[0] and "this session goes on at 0.4 m/s" in said[0]
    keeper.close()


# -- `treadguard progress` ---------------------------------------------------------------------

def config_file(tmp_path):
    path = tmp_path / "treadguard.toml"
    path.write_text(f'[ceiling]\nprogress_file = "{tmp_path / "progress.json"}"\n')
    return str(path)


def test_progress_shows_sets_and_resets_the_ceiling(tmp_path, capsys):
    cfg = config_file(tmp_path)
    assert main(["progress", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "backward ceiling: 0.50 m/s (1.8 km/h) (a new walker" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert main(["progress", "--config", cfg, "--set", "0.7"]) == 0
    assert main(["progress", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "backward ceiling: 0.70 m/s" in out and "set      0.7 m/s" in out
    assert main(["progress", "--config", cfg, "--reset"]) == 0
    assert load(tmp_path / "progress.json").progress.ceiling_mps == 0.5


@pytest.mark.parametrize("value", ["0.29", "1.81"])
def test_progress_refuses_a_ceiling_outside_its_bounds(tmp_path, capsys, value):
    assert main(["progress", "--config", config_file(tmp_path), "--set", value]) == 2
    assert "must be from ceiling.min_mps 0.3 to belt.max_backward_mps 1.8" in capsys.readouterr().err


def test_progress_on_a_broken_file_says_so_and_can_reset_it(tmp_path, capsys):
    cfg = config_file(tmp_path)
    (tmp_path / "progress.json").write_text('{"format": "treadguard-progress v1", "ceil')
    assert main(["progress", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "not whole JSON" in out and "(the file could not be used)" in out
    assert main(["progress", "--config", cfg, "--reset"]) == 0
    assert load(tmp_path / "progress.json").message is None


def test_progress_where_it_cannot_write_says_what_to_do(tmp_path, capsys):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[ceiling]\nprogress_file = "/tmp/no-such-folder-treadguard/progress.json"\n')
    assert main(["progress", "--config", str(cfg), "--set", "0.6"]) == 1
    assert "could not be written" in capsys.readouterr().err


def test_progress_with_the_ceiling_off_says_so(tmp_path, capsys):
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'[ceiling]\nenabled = false\nprogress_file = "{tmp_path / "p.json"}"\n')
    assert main(["progress", "--config", str(cfg)]) == 0
    assert "the backward ceiling is off" in capsys.readouterr().out


def test_the_default_config_keeps_progress_in_the_service_state_folder():
    assert Config().ceiling.progress_file == "/var/lib/treadguard/progress.json"
