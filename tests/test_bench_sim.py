"""The bench simulator: a walker like the real recordings, physics that behaves,
and a subset of the scenario library in which treadguard must be safe."""

import json
from functools import lru_cache

import numpy as np
import pytest

from monitor.cli.main import main
from monitor.config.schema import Config
from monitor.formats.trace_reader import read_trace
from monitor.formats.trace_writer import write_trace
from monitor.service.loop.clock import SimulatedClock
from monitor.service.sessions.replay import replay
from monitor.sim.run import SYSTEMS, build, run_scenario, to_trace
from monitor.sim.scenarios import BY_NAME, END, LIBRARY, NORMAL, START, Scenario
from monitor.sim.world import STEPPING, STOPPED, Script, SimBeltSensor, SimRangeSensor, SimRelay, Treadmill, World
from tests.support import SISFALL


def gait_figures(accel_sensor: np.ndarray, mount: np.ndarray, rate_hz: float) -> tuple[float, float]:
    """Step frequency (the vertical acceleration's dominant frequency, 0.8-4 Hz) and
    the spread (standard deviation) of the vertical acceleration."""
    vertical = (accel_sensor @ mount.T)[:, 2]
    centred = vertical - vertical.mean()
    power = np.abs(np.fft.rfft(centred * np.hanning(len(centred)))) ** 2
    freq = np.fft.rfftfreq(len(centred), 1 / rate_hz)
    band = (freq > 0.8) & (freq < 4.0)
    return float(freq[band][np.argmax(power[band])]), float(vertical.std())


@lru_cache(maxsize=None)
def recorded_ranges(activities: tuple[str, ...]) -> tuple[tuple[float, float], tuple[float, float]]:
    files = [p for a in activities for p in sorted(SISFALL.glob(f"sisfall-{a}-*.csv.gz"))]
    if not files:
        pytest.skip(f"real recordings not found at {SISFALL}")
    figures = []
    for path in files:
        trace = read_trace(path)
        keep = (trace.t_s > 10) & (trace.t_s < 90)
        figures.append(gait_figures(trace.accel_mps2[keep], trace.imu_mount, 200.0))
    steps, spreads = zip(*figures)
    return (min(steps), max(steps)), (min(spreads), max(spreads))


@pytest.mark.parametrize("kind,activities,speeds_kmh", [
    ("walking", ("D01", "D02"), (2.0, 3.0, 4.0, 5.0, 6.0)),
    ("jogging", ("D03", "D04"), (8.0, 9.0, 10.0, 11.0)),
])
def test_the_simulated_walker_steps_and_bounces_like_the_recordings(kind, activities, speeds_kmh):
    (step_low, step_high), (spread_low, spread_high) = recorded_ranges(activities)
    for kmh in speeds_kmh:
        built = build(Scenario(f"{kind}-{kmh}", kind, NORMAL, speed_kmh=kmh, duration_s=60.0, seed=int(kmh * 10)))
        step_hz, spread = gait_figures(built.motion.accel_mps2, built.motion.imu_mount, 200.0)
        assert step_low <= step_hz <= step_high, (kmh, step_hz, (step_low, step_high))
        assert spread_low <= spread <= spread_high, (kmh, spread, (spread_low, spread_high))


# -- the physics ----------------------------------------------------------------------------------------

def test_an_opened_loop_stops_the_belt_at_the_stop_deceleration():
    world = World(Treadmill(), Script(belt_command_mps=lambda t: 2.0, activity=lambda t: STEPPING))
    world.advance(1.0)
    world.open_loop()
    world.advance(1.5)
    assert world.belt_mps == pytest.approx(1.5)
    world.advance(4.0)
    assert world.belt_mps == 0.0


def test_a_walker_who_stops_is_carried_back_at_belt_speed():
    world = World(Treadmill(), Script(belt_command_mps=lambda t: 1.0,
                                      activity=lambda t: STOPPED if t >= 1.0 else STEPPING))
    world.advance(1.0)
    start = world.position_m
    world.advance(1.5)
    assert world.position_m - start == pytest.approx(0.5, abs=0.01)


def test_the_sensors_see_the_belt_and_the_walker():
    clock = SimulatedClock(0.0)
    world = World(Treadmill(), Script(belt_command_mps=lambda t: 1.25, activity=lambda t: STEPPING))
    belt, ranger, relay = SimBeltSensor(world, clock), SimRangeSensor(world, clock), SimRelay(world, clock)
    speeds, distances = [], []
    for k in range(1, 200):
        clock.sleep_until(k * 0.01)
        reading, seen = belt.read(), ranger.read()
        speeds += [reading.speed_mps] if reading else []
        distances += [seen.distance_m] if seen else []
    assert np.median(speeds) == pytest.approx(1.25, rel=0.05)
    assert np.median(distances) == pytest.approx(0.2 + 0.45, abs=0.02)
    relay.release()  # never armed: the belt runs on under the safety key
    assert not world.is_loop_open
    relay.energize()
    relay.release()
    assert world.is_loop_open


def test_a_stopped_belt_reads_zero():
    clock = SimulatedClock(0.0)
    world = World(Treadmill(), Script(belt_command_mps=lambda t: 0.0, activity=lambda t: STEPPING))
    belt = SimBeltSensor(world, clock)
    clock.sleep_until(0.5)
    assert belt.read().speed_mps == 0.0


@pytest.mark.parametrize("speed_mps", [0.3, 1.25, 1.7, 3.06])
def test_the_belt_sensor_reads_a_steady_belt_at_its_speed_at_every_tick(speed_mps):
    """Pulses are stamped at their true times, so a 100 Hz loop reading a 61 Hz pulse
    train sees 3.06 m/s, not 2.5 and 5.0 m/s by turns."""
    clock = SimulatedClock(0.0)
    world = World(Treadmill(), Script(belt_command_mps=lambda t: speed_mps, activity=lambda t: STEPPING))
    belt = SimBeltSensor(world, clock)
    speeds = []
    for k in range(1, 1001):
        clock.sleep_until(k * 0.01)
        reading = belt.read()
        if k > 100:  # the first pulses only start the timing
            speeds.append(reading.speed_mps)
    assert min(speeds) == pytest.approx(speed_mps, rel=0.01)
    assert max(speeds) == pytest.approx(speed_mps, rel=0.01)


def test_running_just_under_the_speed_limit_is_no_overspeed():
    """4.4 m/s is under the 4.5 m/s limit: counting pulses per 10 ms tick read its 88 Hz
    pulses as 5.0 m/s most of the time and stopped the belt; true pulse times never do."""
    scenario = Scenario("run-15.8kmh", "running just under the limit", NORMAL, speed_kmh=15.84,
                        duration_s=20.0, seed=3)
    treadguard = run_scenario(scenario, systems=("treadguard",))[0]
    assert not treadguard.tripped, treadguard.reason


# -- the library -----------------------------------------------------------------------------------------

def test_the_library_covers_every_event_both_directions_and_long_sessions():
    events = {s.event for s in LIBRARY}
    for event in ("stumble", "trip", "slip", "fall_forward", "fall_backward", "fall_sideways", "stop", "drift",
                  "step_off", "clip_off", "i2c_errors", "imu_frozen", "belt_lost", "range_lost", "rails", NORMAL):
        assert event in events
    assert len(LIBRARY) >= 30 and len(BY_NAME) == len(LIBRARY)
    assert {s.walking for s in LIBRARY if s.hazard} == {"forward", "backward"}
    assert {s.walking for s in LIBRARY if not s.hazard} == {"forward", "backward", "auto"}
    long_normal = [s for s in LIBRARY if s.event == NORMAL and s.duration_s >= 600]
    assert len(long_normal) >= 6


def test_the_library_starts_from_standing_breaks_into_a_jog_and_ends_sessions_both_ways():
    starts = [s for s in LIBRARY if s.event == START]
    assert {s.walking for s in starts} == {"forward", "backward"} and {s.stand_on for s in starts} == {"belt", "rails"}
    assert all(5.0 <= s.stand_s <= 15.0 for s in starts)
    assert any(s.speed_mps > 2.1 for s in starts)  # a jog from standing
    assert {s.walking for s in LIBRARY if s.event == END} == {"forward", "backward"}
    assert any(s.profile_kmh and s.profile_kmh[0][1] < 7.5 < s.profile_kmh[-1][1] for s in LIBRARY)
    without_range = [s for s in LIBRARY if not s.range_sensor]
    assert {(s.hazard, s.walking) for s in without_range} == {(h, w) for h in (True, False)
                                                              for w in ("forward", "backward")}
    assert all(not s.hazard for s in LIBRARY if s.event in (START, END))


def test_a_walker_standing_first_is_still_until_the_belt_starts_then_steps():
    built = build(BY_NAME["stand-belt-then-walk-fwd-4kmh"])
    t, vertical = built.motion.t_s, (built.motion.accel_mps2 @ built.motion.imu_mount.T)[:, 2]
    standing, walking = vertical[(t > 1) & (t < 10)], vertical[(t > 20) & (t < 40)]
    assert standing.std() < 0.2 < 1.0 < walking.std()
    assert built.script.belt_command_mps(9.9) == 0.0 and built.script.belt_command_mps(10.1) > 1.0


def test_at_the_end_of_a_session_the_belt_stops_before_the_walker_does():
    scenario = BY_NAME["session-end-fwd-4kmh-imu"]
    built = build(scenario)
    world = World(Treadmill(), built.script)
    world.advance(scenario.onset_s + 10.0)
    assert world.belt_mps == 0.0
    t, vertical = built.motion.t_s, (built.motion.accel_mps2 @ built.motion.imu_mount.T)[:, 2]
    assert vertical[t > scenario.onset_s + 6.0].std() < 0.2 and not scenario.range_sensor


# A subset that runs in a few seconds: one of each kind, both directions.
SUBSET = ["turn-fwd-to-bwd-4kmh", "turn-standing", "too-fast-bwd-new-walker", "stumble-bwd-1kmh", "fall-fwd-4kmh", "slip-fall-bwd-1.5kmh", "stop-carried-bwd-2.5kmh",
          "drift-bwd-2kmh", "clip-pulled-fwd-4kmh", "i2c-errors-fwd-5kmh", "side-rails-fwd-4kmh",
          "stop-carried-fwd-2kmh-imu", "stand-belt-then-walk-bwd-2kmh-imu", "session-end-fwd-4kmh-imu"]


@pytest.mark.parametrize("name", SUBSET)
def test_treadguard_is_safe_and_keeps_at_least_the_safety_keys_margin(name):
    outcomes = {o.system: o for o in run_scenario(BY_NAME[name])}
    assert set(outcomes) == set(SYSTEMS)
    treadguard = outcomes["treadguard"]
    assert treadguard.safe, treadguard
    if treadguard.hazard:
        assert treadguard.tripped
        assert treadguard.margin_m >= outcomes["safety_key"].margin_m


def test_a_scenario_runs_the_same_every_time():
    scenario = BY_NAME["fall-sideways-bwd-2kmh"]
    assert run_scenario(scenario) == run_scenario(scenario)


def test_a_scenario_exports_as_a_trace_that_replays(tmp_path):
    path = tmp_path / "fall.csv.gz"
    write_trace(path, to_trace(BY_NAME["fall-fwd-4kmh"], str(path)))
    trace = read_trace(path)
    label = trace.meta["label"]
    assert label["event"] == "fall_forward" and label["hazard"] is True and label["impact_s"] > label["onset_s"]
    assert trace.belt_mps is not None and trace.range_m is not None and trace.rear_edge_m == pytest.approx(1.6)
    result = replay(trace, Config())
    assert result.tripped and label["onset_s"] < result.trip_t < label["impact_s"]


# -- the command ----------------------------------------------------------------------------------------

def test_bench_json_has_the_promised_keys(capsys):
    assert main(["bench", "stumble-fwd-2kmh", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["system"] for r in rows] == ["treadguard", "safety_key", "threshold"]
    for row in rows:
        assert list(row) == ["scenario", "system", "hazard", "walking", "tripped", "trip_s", "margin_m", "safe"]
        assert row["scenario"] == "stumble-fwd-2kmh" and row["walking"] == "forward" and row["hazard"] is True


def test_bench_table_shows_totals(capsys):
    assert main(["bench", "stumble-fwd-2kmh", "walk-fwd-4kmh-10min", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "treadguard: safe in 2/2 scenarios" in out
    assert "hazards where treadguard's margin is below the safety key's: none" in out


def test_bench_list_and_unknown_names(capsys):
    assert main(["bench", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines if not line.startswith(" ")] == [s.name for s in LIBRARY]
    assert main(["bench", "no-such-walk"]) == 2
    assert "no scenario named no-such-walk" in capsys.readouterr().err


def test_bench_export_needs_one_scenario(tmp_path, capsys):
    assert main(["bench", "--export", str(tmp_path / "x.csv")]) == 2
    assert main(["bench", "fall-fwd-2kmh", "--export", str(tmp_path / "x.csv")]) == 0
    assert read_trace(tmp_path / "x.csv").meta["label"]["scenario"] == "fall-fwd-2kmh"


def _followed(name: str):
    from monitor.sim.run import build, run_treadguard

    kept = {}
    outcome = run_treadguard(build(BY_NAME[name]), on_tick=lambda v, core: kept.setdefault("core", core))
    return outcome, kept["core"]


@pytest.mark.parametrize("name, start, after", [("turn-fwd-to-bwd-1kmh", "forward", "backward"),
                                                ("turn-bwd-to-fwd-2kmh", "backward", "forward"),
                                                ("turn-standing", "forward", "backward")])
def test_a_half_turn_is_followed_as_it_ends_and_stops_nothing(name, start, after):
    from monitor.sim.body import TURN_S

    outcome, core = _followed(name)
    turn_s = BY_NAME[name].turns_s[0]
    (change,) = [c for c in core.direction.changes if c.t_s > turn_s]
    assert change.direction.value == after and change.cue.value == "turned"
    assert change.t_s - (turn_s + TURN_S) <= 2.0 and not outcome.tripped


def test_a_new_backward_walker_who_starts_too_fast_is_warned_then_stopped_before_the_fall():
    from monitor.sim.run import build

    outcome, core = _followed("too-fast-bwd-new-walker")
    kinds = [(e.kind.value, e.t_s) for e in core.ceiling_log]
    assert [k for k, _ in kinds] == ["warned", "tripped"]
    assert outcome.reason.startswith("backward_ceiling")
    assert kinds[1][1] - kinds[0][1] == pytest.approx(5.0, abs=0.02)
    assert kinds[1][1] < build(BY_NAME["too-fast-bwd-new-walker"]).fall_onset_s


def test_the_progression_rises_over_sessions_and_a_stumble_lowers_it():
    from monitor.sim.progression import progression

    results = progression(3, start_mps=0.5, stumble_in=3)
    assert [(round(r.start_mps, 2), round(r.end_mps, 2)) for r in results] == [(0.5, 0.6), (0.6, 0.7), (0.7, 0.6)]
    assert results[2].tripped and results[2].reason.startswith("stumble") and not results[0].tripped
