"""`treadguard run`: the bench demo trips and says why; real hardware that is not
there fails with a clear message and the relay never energized."""

import io
import re

import pytest

from monitor.cli import run as run_module
from monitor.cli.main import main
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Problem, Trip, Verdict
from monitor.service.loop.clock import SimulatedClock
from monitor.service.outputs.sideline import Sideline
from monitor.service.outputs.status_line import StatusLine, describe
from monitor.service.sessions import bench as bench_session_module
from tests.support import IDENTITY_MOUNT, sisfall


@pytest.fixture
def simulated(monkeypatch):
    """Run the bench on a simulated clock: as fast as the machine, no wall time."""
    monkeypatch.setattr(bench_session_module, "ScaledClock", lambda start_s, speed: SimulatedClock(start_s))


def test_the_bench_demo_trips_and_says_why(simulated, capsys):
    assert main(["run", "--bench"]) == 0
    out = capsys.readouterr().out
    assert "walk-then-stumble.csv.gz" in out and "sensors: imu, belt, range" in out
    assert re.search(r"TRIPPED at 12\.[01]\d s into the trace: stumble", out)  # the stumble starts at 12.0 s
    assert "because " in out and "released in that tick" in out


def test_the_bench_plays_any_trace(simulated, capsys):
    assert main(["run", "--bench", str(sisfall("D01-SA02-R01"))]) == 0
    assert "no trip" in capsys.readouterr().out


def test_the_bench_refuses_a_broken_trace_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("hello\n")
    assert main(["run", "--bench", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"treadguard: {bad}:1: ") and "Traceback" not in err


def test_the_bench_refuses_an_empty_trace(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("# treadmill-trace v1\nt,ax,ay,az,gx,gy,gz\n")
    assert main(["run", "--bench", str(empty)]) == 1
    assert "no samples" in capsys.readouterr().err


@pytest.mark.parametrize("speed", ["0", "-1", "0.05", "21"])
def test_the_bench_speed_is_bounded(speed, capsys):
    assert main(["run", "--bench", "--speed", speed]) == 2
    err = capsys.readouterr().err
    assert f"--speed {float(speed):g} is out of range" in err and "from 0.1x" in err and "to 20x" in err


def test_run_with_a_broken_config_starts_nothing(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[relay]\ndriver = \"magic\"\n")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert 'relay.driver is "magic"' in err and "nothing was started" in err


def test_run_on_hardware_needs_a_config(capsys):
    assert main(["run", "--hardware"]) == 2
    assert "needs --config FILE" in capsys.readouterr().err


def test_run_with_fake_drivers_in_the_config_points_to_the_bench(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[relay]\ndriver = "fake"\n')
    assert main(["run", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "run --bench" in err and "relay stays released" in err


def test_an_internal_error_is_one_line_not_a_traceback(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(run_module, "run_bench", broken)
    assert main(["run", "--bench"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ValueError: boom" in err
    with pytest.raises(ValueError):
        main(["--debug", "run", "--bench"])


# -- the status line and the side outputs -----------------------------------------------------------

def _verdict(state, problems=(), trip=None, new=False, t=12.5):
    return Verdict(t, state, state is LatchState.ARMED, tuple(problems), trip, new)


def test_the_status_line_shows_state_sensors_and_the_trip():
    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=True, has_range=True)
    core.ingest_belt(12.4, 1.25)
    core.ingest_range(12.4, 0.9)
    core.imu_health.last_good_t_s = 12.49
    armed = describe(_verdict(LatchState.ARMED), core, t0_s=2.5)
    assert armed.split() == ["10.00", "s", "ARMED", "belt", "1.25", "m/s", "rear", "margin", "0.70", "m",
                             "imu", "age", "10", "ms"]
    problem = Problem("sensor_fault", "belt_stale", 12.5, {"age_s": 0.6})
    assert "problem: belt_stale" in describe(_verdict(LatchState.UNARMED, [problem]), core, 0.0)
    trip = Trip(12.5, (Problem("stumble", "stumble_detected", 12.49),))
    assert "tripped: stumble (stumble_detected)" in describe(_verdict(LatchState.TRIPPED, trip=trip), core, 0.0)


def test_the_status_hook_throttles_but_never_misses_a_trip():
    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=False)
    out = io.StringIO()
    status = StatusLine(out)
    lines = []
    hook = status.tick_hook(lambda line: lines.append(line) or True)
    for k in range(100):  # one second at 100 Hz: one line a second off a terminal
        hook(_verdict(LatchState.ARMED, t=k / 100), core)
    trip = Trip(1.0, (Problem("fall", "fall_detected", 1.0),))
    hook(_verdict(LatchState.TRIPPED, trip=trip, new=True, t=1.005), core)
    assert len(lines) == 2 and lines[1].endswith("\n") and "fall" in lines[1]
    for line in lines:
        status.handle(line)
    assert out.getvalue().count("\n") == 2


def test_a_refused_re_arm_says_so_and_the_line_keeps_the_trip_that_latched():
    """Tripped by a stumble; a person asks to re-arm while the walker is down: the core refuses and
    explains the latch anew with the fall it sees. That is "re-arm refused", not a new fall."""
    from monitor.service.sessions.bench_session import BenchSession

    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=False)
    status = StatusLine(io.StringIO())
    session = BenchSession(status)
    lines = []
    hook = status.tick_hook(lambda line: lines.append(line) or True)

    def tick(verdict):
        session.on_tick(verdict, core)
        hook(verdict, core)

    tick(_verdict(LatchState.ARMED, t=1.0))
    stumble = Trip(1.01, (Problem("stumble", "stumble_detected", 1.01),))
    tick(_verdict(LatchState.TRIPPED, trip=stumble, new=True, t=1.01))
    session.ask_rearm()
    fall = Problem("fall", "fall_detected", 2.0)
    tick(_verdict(LatchState.TRIPPED, [fall], trip=Trip(2.0, (fall,)), t=2.0))  # refused: a new Trip, not new
    refused_line = lines[-1]
    assert "re-arm refused: fall_detected" in refused_line and "tripped: stumble (stumble_detected)" in refused_line
    tick(_verdict(LatchState.TRIPPED, [fall], trip=Trip(2.0, (fall,)), t=9.0))  # later, the note gone
    assert "tripped: stumble (stumble_detected)" in lines[-1] and "fall" not in lines[-1]
    assert [reason for _, reason, _ in session.trips] == ["stumble"]
    assert "re-arm refused at 2.00 s (fall_detected)" in session.summary()


def test_a_full_side_queue_drops_instead_of_waiting():
    handled = []
    side = Sideline(handled.append, maxsize=2, threaded=False)
    assert side.offer(1) and side.offer(2)
    assert not side.offer(3) and side.dropped == 1
    side.drain()
    assert handled == [1, 2]


def test_a_failing_side_output_is_counted_not_raised(capsys):
    def broken(item):
        raise OSError("disk full")

    side = Sideline(broken, threaded=False)
    side.offer("x")
    side.close()
    assert side.failures == 1 and "side output failed: disk full" in capsys.readouterr().err


def test_a_threaded_side_output_finishes_its_queue_on_close():
    handled = []
    side = Sideline(handled.append)
    for k in range(10):
        side.offer(k)
    side.close()
    assert handled == list(range(10))


def test_the_bench_plays_a_scenario_live_and_scores_it(simulated, capsys):
    assert main(["run", "--bench", "fall-fwd-2kmh"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # prose is wrapped at the terminal's width
    assert "scenario fall-fwd-2kmh: falls forward toward the console at 2 km/h" in out
    assert re.search(r"TRIPPED \+0\.\d\d s from the event: fall/fall_detected", out)
    assert "rear edge while the belt moved" in out and "; safe" in out


def _served_paths(monkeypatch) -> list[tuple[str, bool]]:
    """Where the bench serves its status socket, and whether a socket was there at once."""
    import os

    served = []
    real = bench_session_module.serve_status

    def serve(config, daemon, path):
        service = real(config, daemon, path)
        served.append((path, os.path.exists(path)))
        return service
    monkeypatch.setattr(bench_session_module, "serve_status", serve)
    return served


def _records(folder) -> list[str]:
    return sorted(p.name for p in folder.glob("trip-*.json")) if folder.exists() else []


def test_a_bench_run_with_a_config_serves_its_socket_and_keeps_its_trips_out_of_the_real_folder(
        simulated, monkeypatch, tmp_path, capsys):
    served = _served_paths(monkeypatch)
    config = tmp_path / "desk.toml"
    config.write_text(f'[record]\ntrip_dir = "{tmp_path / "real-trips"}"\n'
                      f'[status]\nsocket_path = "{tmp_path / "desk.sock"}"\n')
    assert main(["run", "--bench", "--config", str(config)]) == 0
    assert served == [(str(tmp_path / "desk.sock"), True)]
    assert _records(tmp_path / "real-trips") == []  # the treadmill's own record of trips holds no bench trip
    assert len(_records(tmp_path / "state" / "treadguard" / "bench-trips")) == 1
    capsys.readouterr()


def test_a_bench_run_keeps_its_trips_where_it_is_told_and_serves_the_desk_socket_by_default(
        simulated, monkeypatch, tmp_path, capsys):
    from monitor.service.outputs.status_socket import desk_socket_path

    served = _served_paths(monkeypatch)
    config = tmp_path / "desk.toml"
    config.write_text(f'[record]\ntrip_dir = "{tmp_path / "real-trips"}"\n')
    assert main(["run", "--bench", "--config", str(config), "--trip-dir", str(tmp_path / "asked")]) == 0
    assert served == [(desk_socket_path(), True)]  # never the service's /run/treadguard/status.sock
    assert len(_records(tmp_path / "asked")) == 1 and _records(tmp_path / "real-trips") == []
    capsys.readouterr()


def test_trip_dir_without_the_bench_is_refused(tmp_path, capsys):
    config = tmp_path / "desk.toml"
    config.write_text("")
    assert main(["run", "--config", str(config), "--trip-dir", str(tmp_path)]) == 2
    assert "--trip-dir is for --bench only" in capsys.readouterr().err


def test_the_bench_loop_starts_no_thread_and_runs_no_full_collection_once_it_ticks(simulated, monkeypatch, capsys):
    """Its threads start and its code first runs (a warm-up) before the loop: the loop's first
    second costs what the rest does (under emulation a thread start or a full collection
    inside the loop took more than the 0.1 s loop_late allows)."""
    import gc
    import threading

    from monitor.service.loop.daemon import Daemon

    loop_thread = threading.current_thread()
    ticks: list[int] = []  # which daemon ticked, in order
    happened: list[tuple[int, str]] = []  # (ticks so far, what) on the loop's thread
    real_tick, real_start = Daemon.tick, threading.Thread.start

    def tick(self, now_s):
        ticks.append(id(self))
        return real_tick(self, now_s)

    def start(self):
        if threading.current_thread() is loop_thread:
            happened.append((len(ticks), f"thread {self.name}"))
        real_start(self)

    def on_gc(phase, info):
        if phase == "start" and info["generation"] == 2 and threading.current_thread() is loop_thread:
            happened.append((len(ticks), "full collection"))

    monkeypatch.setattr(Daemon, "tick", tick)
    monkeypatch.setattr(threading.Thread, "start", start)
    gc.callbacks.append(on_gc)
    try:
        assert main(["run", "--bench"]) == 0
    finally:
        gc.callbacks.remove(on_gc)
    assert re.search(r"TRIPPED at 12\.[01]\d s into the trace: stumble", capsys.readouterr().out)
    session = max(set(ticks), key=ticks.count)  # the session's loop; a warm-up ticked a copy before it
    first, last = ticks.index(session), len(ticks) - ticks[::-1].index(session)
    assert first > 0  # it was warmed up
    assert [what for at, what in happened if first < at <= last] == []
