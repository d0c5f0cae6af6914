"""The desk tools as a new user meets them: a status line that fits an 80-column terminal
and never cuts the trip's reason, a true summary on Ctrl-C and on a re-arm, a bounded
--speed with signals seen within 0.2 s, helpful names, a bench legend, --version, and
replay of a folder with a summary."""

from __future__ import annotations

import io
import json
import os
import re
import signal

import pytest

from monitor.cli.bench import print_table
from monitor.cli.main import main
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Problem, Trip, Verdict
from monitor.service.loop.clock import MAX_SLEEP_S, ScaledClock, SimulatedClock
from monitor.service.outputs.status_line import StatusLine
from monitor.service.sessions import bench as bench_session_module
from tests.support import IDENTITY_MOUNT, SISFALL


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _core():
    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=True, has_range=True)
    core.ingest_belt(12.4, 1.25)
    core.ingest_range(12.4, 0.9)
    core.imu_health.last_good_t_s = 12.49
    return core


def _verdict(state, problems=(), trip=None, new=False, t=12.5):
    return Verdict(t, state, state is LatchState.ARMED, tuple(problems), trip, new)


# -- the status line ---------------------------------------------------------------------------------

@pytest.mark.parametrize("columns", [80, 50])
def test_the_status_line_overwrites_itself_within_the_terminal_and_keeps_the_trip_reason(columns):
    out = Terminal()
    status = StatusLine(out, width=columns)
    core = _core()
    hook = status.tick_hook(lambda line: status.handle(line) or True)
    hook(_verdict(LatchState.ARMED, t=12.0), core)
    trip = Trip(12.5, (Problem("sensor_fault", "imu_time_not_increasing", 12.49),))
    hook(_verdict(LatchState.TRIPPED, trip=trip, new=True), core)
    written = out.getvalue()
    redraws = written.split("\r")[1:]
    assert len(redraws) == 2
    for redraw in redraws:  # each erases the rest of the old line and stays one short of the width
        text = redraw.rstrip("\n")
        assert text.endswith("\x1b[K") and len(text[:-3]) <= columns - 1
    assert redraws[-1].endswith("tripped: sensor_fault (imu_time_not_increasing)\x1b[K\n")  # it stays on screen


def test_a_dumb_terminal_gets_the_old_line_blanked_with_spaces(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    out = Terminal()
    status = StatusLine(out, width=80)
    status.handle("  1.00 s  ARMED")
    assert out.getvalue() == "\r" + "1.00 s  ARMED".rjust(15).ljust(79)


def test_a_wide_terminal_shows_every_field_and_a_narrow_one_drops_the_least_useful_first():
    core = _core()
    wide, narrow = StatusLine(Terminal(), width=120), StatusLine(Terminal(), width=40)
    trip = Trip(12.5, (Problem("drift", "near_rear_edge", 12.49),))
    verdict = _verdict(LatchState.TRIPPED, trip=trip)
    assert wide.line(verdict, core).endswith(
        "TRIPPED  belt 1.25 m/s  rear margin 0.70 m  imu age  10 ms  tripped: drift (near_rear_edge)")
    short = narrow.line(verdict, core)
    assert len(short) <= 39 and short.endswith("tripped: drift (near_rear_edge)") and "imu age" not in short
    tiny = StatusLine(Terminal(), width=24).line(
        _verdict(LatchState.TRIPPED, trip=Trip(12.5, (Problem("sensor_fault", "imu_time_not_increasing", 12.4),))),
        core)
    assert tiny == "sensor_fault (imu_time…" and len(tiny) == 23  # the reason word is the last thing cut


# -- a session's end, re-arms, speed and signals ------------------------------------------------------

class SignallingClock(SimulatedClock):
    """A simulated clock that sends this process a signal when the trace reaches a time."""

    def __init__(self, start_s: float, at: list[tuple[float, int]]) -> None:
        super().__init__(start_s)
        self.start = start_s
        self.at = sorted(at)

    def sleep_until(self, t_s: float) -> None:
        super().sleep_until(t_s)
        while self.at and self.t_s - self.start >= self.at[0][0]:
            os.kill(os.getpid(), self.at.pop(0)[1])


def _bench(monkeypatch, at):
    monkeypatch.setattr(bench_session_module, "ScaledClock", lambda start_s, speed: SignallingClock(start_s, at))


def test_ctrl_c_on_the_bench_prints_a_true_summary_and_the_prompt_starts_a_new_line(monkeypatch, capsys):
    _bench(monkeypatch, [(3.8, signal.SIGINT)])
    assert main(["run", "--bench"]) == 0
    out = capsys.readouterr().out
    assert "stopped by you at 3.80 s, armed, no trip\n" in out and out.endswith("\n")
    assert "no trip: the monitor stayed armed for the whole trace" not in out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back


def test_ctrl_c_in_a_live_scenario_prints_a_true_summary(monkeypatch, capsys):
    monkeypatch.setattr(bench_session_module, "ScaledClock", lambda start_s, speed: SignallingClock(start_s, [
        (3.8, signal.SIGINT)]))
    assert main(["run", "--bench", "fall-fwd-2kmh"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("stopped by you at 3.80 s, armed, no trip\n")
    assert "NOT SAFE" not in out and "smallest distance" not in out  # a cut-short session is not scored


def test_a_re_arm_after_the_trip_is_announced_in_the_status_line_and_the_summary(monkeypatch, capsys):
    _bench(monkeypatch, [(13.0, signal.SIGUSR1)])  # the demo stumbles at 12.07 s
    assert main(["run", "--bench"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ARMED .*re-armed by you at 13\.0\d s", out)
    said = " ".join(out.split())
    assert re.search(r"ended at 1\d\.\d\d s, armed, trip at 12\.0\d s: stumble \(stumble_detected\), "
                     r"re-armed by you at 13\.0\d s", said), said


def test_a_bench_speed_below_the_floor_is_refused_naming_it(capsys):
    assert main(["run", "--bench", "--speed", "0.01"]) == 2
    assert "--speed 0.01 is out of range: the bench plays from 0.1x" in capsys.readouterr().err


class FakeTime:
    """Real time for a ScaledClock, advanced only by its sleeps; a signal may arrive in one."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = None

    def monotonic(self) -> float:
        return self.now_s

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now_s += s
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.mark.parametrize("speed", [0.1, 1.0, 20.0])
def test_a_signal_ends_a_scaled_sleep_within_0_2_s_of_real_time_at_any_speed(speed):
    real = FakeTime()
    clock = ScaledClock(0.0, speed, monotonic=real.monotonic, sleep=real.sleep)
    signalled_at = []

    def signal_at_0_3_s():
        if real.now_s >= 0.3 and not signalled_at:
            signalled_at.append(real.now_s)
            clock.wake()  # what the SIGINT / SIGUSR1 handler does

    real.on_sleep = signal_at_0_3_s
    clock.sleep_until(60.0)  # a minute of trace time away
    assert signalled_at and real.now_s - signalled_at[0] <= 0.2
    assert max(real.sleeps) <= MAX_SLEEP_S
    clock.sleep_until(clock.now() + 0.01)  # the next sleep is a normal one again
    assert real.now_s == pytest.approx(signalled_at[0] + 0.01 / speed)


def test_a_scaled_sleep_without_a_signal_lasts_the_scaled_time():
    real = FakeTime()
    clock = ScaledClock(5.0, 0.5, monotonic=real.monotonic, sleep=real.sleep)
    clock.sleep_until(5.1)
    assert real.now_s == pytest.approx(0.2) and clock.now() == pytest.approx(5.1)


# -- names and help ------------------------------------------------------------------------------------

def test_a_misspelt_scenario_gets_a_suggestion_in_run_and_bench(capsys):
    assert main(["run", "--bench", "fall-fwd-4kmhh"]) == 2
    err = capsys.readouterr().err
    assert "no scenario named fall-fwd-4kmhh, did you mean fall-fwd-4kmh" in err and "Traceback" not in err
    assert main(["bench", "stumble-fwd-2kph"]) == 2
    assert "no scenario named stumble-fwd-2kph, did you mean stumble-fwd-2kmh" in capsys.readouterr().err


def test_a_missing_trace_file_is_named_not_taken_for_a_scenario(tmp_path, capsys):
    assert main(["run", "--bench", str(tmp_path / "walk.csv")]) == 1
    err = capsys.readouterr().err
    assert "walk.csv" in err and "scenario" not in err


def test_run_help_shows_config_file_as_the_readme_uses_it(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: treadguard run --config FILE\n")
    assert "treadguard run --bench [TRACE|SCENARIO]" in out and "--hardware" not in out


def test_run_with_nothing_says_what_to_give(capsys):
    assert main(["run"]) == 2
    assert "needs --config FILE" in capsys.readouterr().err


def test_version_comes_from_the_package(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"treadguard {version('treadguard')}\n"


# -- the bench table -------------------------------------------------------------------------------------

def _row(scenario, system, hazard, tripped, safe, margin=0.9):
    return {"scenario": scenario, "system": system, "hazard": hazard, "walking": "forward", "tripped": tripped,
            "trip_s": 1.0 if tripped else None, "margin_m": margin, "safe": safe}


def test_the_bench_table_has_a_legend_and_a_false_stop_is_not_called_unsafe():
    out = io.StringIO()
    print_table([[_row("fall", "treadguard", True, True, True), _row("fall", "safety_key", True, False, False, -0.2)],
                 [_row("walk", "treadguard", False, True, False), _row("walk", "safety_key", False, False, True)]],
                out)
    text = out.getvalue()
    for word in ("hazard ", "walking ", "trip s ", "margin ", "result ", "false stop: a normal session"):
        assert word in text
    lines = text.splitlines()
    fall, walk = [lines[i + 1] for i, line in enumerate(lines) if line.startswith(("fall (", "walk ("))]
    assert "UNSAFE" in fall.split("|")[1] and "false stop" in walk.split("|")[0] and "UNSAFE" not in walk


# -- replay: folders and a summary -------------------------------------------------------------------------

needs_data = pytest.mark.skipif(not SISFALL.exists(), reason="needs the shared recordings")


@needs_data
def test_replay_takes_a_folder_in_name_order_and_sums_up(tmp_path, capsys):
    folder = tmp_path / "traces"
    folder.mkdir()
    for name in ("sisfall-D18-SA01-R01.csv.gz", "sisfall-D01-SA01-R01.csv.gz"):
        (folder / name).write_bytes((SISFALL / name).read_bytes())
    (folder / "broken.csv").write_text("not a trace\n")
    (folder / "notes.txt").write_text("ignored")
    assert main(["replay", str(folder), "--jobs", "1"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == [str(folder / "sisfall-D01-SA01-R01.csv.gz"),
                                                          str(folder / "sisfall-D18-SA01-R01.csv.gz")]
    assert re.fullmatch(r"3 trace\(s\): 1 tripped \(\w+ 1\), 1 did not, 1 could not be read \(see above\)", lines[-1])
    assert "broken.csv" in captured.err


@needs_data
def test_replay_json_stays_exactly_the_contract_even_for_a_folder(tmp_path, capsys):
    folder = tmp_path / "traces"
    folder.mkdir()
    (folder / "a.csv.gz").write_bytes((SISFALL / "sisfall-D18-SA01-R01.csv.gz").read_bytes())
    assert main(["replay", str(folder), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and list(json.loads(lines[0]))[:6] == ["trace", "samples", "duration_s", "tripped",
                                                                 "trip_t", "reason"]


def test_replay_of_an_empty_folder_says_so(tmp_path, capsys):
    assert main(["replay", str(tmp_path)]) == 1
    assert "a folder with no traces in it" in capsys.readouterr().err


def test_replay_plot_draws_the_trip_the_replay_found(tmp_path, capsys):
    png = tmp_path / "demo.png"
    assert main(["replay", "monitor/demo/walk-then-stumble.csv.gz", "--plot", str(png)]) == 0
    assert f"plot: {png}" in capsys.readouterr().out and png.stat().st_size > 10_000
    assert main(["replay", "monitor/demo/walk-then-stumble.csv.gz", "monitor/demo/walk-then-stumble.csv.gz",
                 "--plot", str(png)]) == 2
    assert "--plot draws one trace" in capsys.readouterr().err


def test_a_restarted_bench_clock_is_at_its_start_again_so_set_up_time_is_not_played():
    wall = [100.0]
    clock = ScaledClock(5.0, 2.0, monotonic=lambda: wall[0], sleep=lambda s: None)
    wall[0] = 101.0  # a second of set-up (a warm-up, a collection) at 2x
    assert clock.now() == 7.0
    clock.restart()
    assert clock.now() == 5.0
    wall[0] = 101.5
    assert clock.now() == 6.0
