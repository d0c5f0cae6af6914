"""The walking direction from the body: half turns flip it, the gait's timing decides it, and the belt's
limit follows it. Synthetic signals on a passed-in clock; the real recordings are scored by
bench/evaluate_direction.py (and one is pinned here)."""

import math

import pytest

from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.direction import (
    Change,
    Cue,
    Direction,
    DirectionEstimator,
    DirectionParams,
    calibrated_facing,
    initial_direction,
    next_direction,
)
from monitor.safety.drift import StepTracker
from tests.support import G, sisfall, with_settings

RATE = 200.0


def estimator(walking: str = "forward", has_front: bool = True, has_belt: bool = True,
              **changed) -> DirectionEstimator:
    d = Config().direction
    params = DirectionParams(**{**{f: getattr(d, f) for f in DirectionParams.__dataclass_fields__}, **changed})
    drift = Config().drift
    steps = StepTracker(band_low_hz=drift.step_band_low_hz, band_high_hz=drift.step_band_high_hz,
                        level_tau_s=drift.step_level_tau_s, level_ratio=drift.step_level_ratio,
                        floor_mps2=drift.step_floor_mps2, period_ratio=drift.no_step_period_ratio,
                        longest_ratio=drift.no_step_longest_ratio, min_no_step_s=drift.min_no_step_s,
                        max_no_step_s=drift.max_no_step_s, steps_to_learn=drift.steps_to_learn, start_s=0.0)
    return DirectionEstimator(params, steps, walking=walking, has_front=has_front, start_s=0.0, has_belt=has_belt)


def gait(t_s: float, *, step_hz: float, bounce_mps2: float, lead_rad: float, running: bool = False):
    """Vertical and fore-aft acceleration of a steady gait: the fore-aft one leads the vertical by
    lead_rad at the step frequency (walking forward about +1.5 rad; backwards, reversed in time, -1.5).
    Running forward brakes before the vertical peak at mid-stance and pushes after it: the fore-aft
    acceleration lags the vertical by a quarter period (the sign of lead_rad says which way)."""
    phase = 2 * math.pi * step_hz * t_s
    if running:
        return 1.5 * math.copysign(1.0, lead_rad) * math.sin(phase), G + bounce_mps2 * math.sqrt(2) * math.cos(phase)
    return 1.5 * math.sin(phase + lead_rad), G + bounce_mps2 * math.sqrt(2) * math.sin(phase)


def walk(e: DirectionEstimator, t0_s: float, t1_s: float, *, yaw_radps=lambda t: 0.0, **g) -> None:
    for k in range(int(round((t1_s - t0_s) * RATE))):
        t = t0_s + k / RATE
        front, up = gait(t, **g) if g else (0.0, G)
        e.sample(t, front, up, yaw_radps(t))


FORWARD_WALK = dict(step_hz=1.8, bounce_mps2=2.0, lead_rad=1.5)
BACKWARD_WALK = dict(step_hz=1.8, bounce_mps2=2.0, lead_rad=-1.5)


def first_change(e: DirectionEstimator) -> Change:
    assert e.changes, "no change of direction"
    return e.changes[0]


# -- the transition function, every state and cue ---------------------------------------------

@pytest.mark.parametrize("state", list(Direction))
def test_the_gait_decides_outright_from_any_state(state):
    assert next_direction(state, Cue.GAIT_FORWARD) is Direction.FORWARD
    assert next_direction(state, Cue.GAIT_BACKWARD) is Direction.BACKWARD


def test_a_half_turn_flips_a_known_direction_and_leaves_an_unknown_one_unknown():
    assert next_direction(Direction.FORWARD, Cue.TURNED) is Direction.BACKWARD
    assert next_direction(Direction.BACKWARD, Cue.TURNED) is Direction.FORWARD
    assert next_direction(Direction.UNKNOWN, Cue.TURNED) is Direction.UNKNOWN


@pytest.mark.parametrize("state", list(Direction))
def test_a_half_turn_with_no_belt_sensor_makes_the_direction_unknown(state):
    assert next_direction(state, Cue.TURNED_UNSURE) is Direction.UNKNOWN


def test_auto_calibrates_facing_the_console_and_traces_say_so():
    assert [calibrated_facing(w) for w in ("forward", "backward", "auto")] == ["forward", "backward", "forward"]


def test_the_declared_direction_is_only_where_it_starts():
    assert initial_direction("forward") is Direction.FORWARD
    assert initial_direction("backward") is Direction.BACKWARD
    assert initial_direction("auto") is Direction.UNKNOWN


# -- the gait ---------------------------------------------------------------------------------

def test_a_walker_declared_forward_who_walks_backwards_is_found_out_within_seconds():
    e = estimator("forward")
    walk(e, 0.0, 20.0, **BACKWARD_WALK)
    change = first_change(e)
    assert e.state is Direction.BACKWARD and change.cue is Cue.GAIT_BACKWARD
    assert change.t_s < 10.0


def test_a_forward_walker_is_confirmed_from_auto_and_never_called_backward():
    e = estimator("auto")
    walk(e, 0.0, 60.0, **FORWARD_WALK)
    assert [c.direction for c in e.changes] == [Direction.FORWARD]
    assert e.gait == "walking" and e.correlation > 0.5


def test_running_times_its_gait_the_other_way_and_is_read_the_right_way_round():
    forward_run = dict(step_hz=2.7, bounce_mps2=6.0, lead_rad=1.5, running=True)
    e = estimator("auto")
    walk(e, 0.0, 30.0, **forward_run)
    assert e.gait == "running" and e.state is Direction.FORWARD
    e = estimator("auto")
    walk(e, 0.0, 30.0, **{**forward_run, "lead_rad": -1.5})
    assert e.state is Direction.BACKWARD


@pytest.mark.parametrize("step_hz, bounce, gait_name", [
    (2.25, 2.0, "walking"),  # inside the walking cadence
    (2.35, 2.0, "unsure"),  # between walking's 2.3 and running's 2.4 steps/s: no evidence
    (2.35, 6.0, "unsure"),
    (2.0, 6.0, "unsure"),  # a walking cadence with a running bounce
    (2.7, 2.4, "unsure"),  # a running cadence with a walking bounce
    (2.7, 6.0, "running"),
])
def test_a_gait_neither_clearly_walking_nor_running_says_nothing(step_hz, bounce, gait_name):
    e = estimator("auto")
    walk(e, 0.0, 20.0, step_hz=step_hz, bounce_mps2=bounce, lead_rad=-1.5)
    assert e.gait == gait_name
    assert (e.state is Direction.UNKNOWN) == (gait_name == "unsure")


def test_a_weak_gait_signature_is_no_evidence_either_way():
    weak = dict(step_hz=1.8, bounce_mps2=2.0, lead_rad=-0.15)  # correlation about -0.15
    e = estimator("auto", min_correlation=0.2)
    walk(e, 0.0, 30.0, **weak)
    assert e.state is Direction.UNKNOWN and -0.2 < e.correlation < 0.0
    e = estimator("auto", min_correlation=0.1)
    walk(e, 0.0, 30.0, **weak)
    assert e.state is Direction.BACKWARD


def test_without_a_mount_the_gait_says_nothing():
    e = estimator("forward", has_front=False)
    walk(e, 0.0, 30.0, **BACKWARD_WALK)
    assert e.state is Direction.FORWARD and not e.changes and e.gait == "none"


def test_standing_still_keeps_the_direction():
    e = estimator("backward")
    walk(e, 0.0, 30.0)
    assert e.state is Direction.BACKWARD and e.gait == "none"


def test_a_hole_in_the_samples_restarts_the_gait_statistics_but_keeps_the_belief():
    e = estimator("auto")
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    e.gap()
    e.sample(20.0, 0.0, G, 0.0)
    e.sample(20.0, 0.0, G, 0.0)  # a repeated time stamp is ignored
    assert e.state is Direction.FORWARD and e._warm_s == 0.0


# -- turns ------------------------------------------------------------------------------------

def turn(deg: float, *, start_s: float = 5.0, duration_s: float = 1.8):
    """A smooth turn: the rate rises and falls as a sine over duration_s, integrating to deg."""
    peak = math.radians(deg) * math.pi / (2 * duration_s)

    def rate(t: float) -> float:
        x = (t - start_s) / duration_s
        return peak * math.sin(math.pi * x) if 0.0 <= x <= 1.0 else 0.0
    return rate


@pytest.mark.parametrize("deg", [180.0, -180.0, 150.0])
def test_a_half_turn_either_way_flips_the_direction_as_it_ends(deg):
    e = estimator("forward")
    walk(e, 0.0, 10.0, yaw_radps=turn(deg))
    change = first_change(e)
    assert e.state is Direction.BACKWARD and change.cue is Cue.TURNED
    assert 6.8 - 0.001 <= change.t_s <= 7.3  # the turn ends at 6.8 s
    assert abs(change.turn_deg) >= 130.0 and math.copysign(1, change.turn_deg) == math.copysign(1, deg)


@pytest.mark.parametrize("deg", [90.0, 110.0])
def test_a_quarter_turn_is_no_change(deg):
    e = estimator("forward")
    walk(e, 0.0, 10.0, yaw_radps=turn(deg))
    assert e.state is Direction.FORWARD and not e.changes


def test_the_turn_limit_is_judged_on_the_measured_angle_on_both_sides():
    e = estimator("forward")
    walk(e, 0.0, 10.0, yaw_radps=turn(150.0))
    measured = abs(first_change(e).turn_deg)
    assert estimator_turns(measured - 0.5) and not estimator_turns(measured + 0.5)


def estimator_turns(turn_min_deg: float) -> bool:
    e = estimator("forward", turn_min_deg=turn_min_deg)
    walk(e, 0.0, 10.0, yaw_radps=turn(150.0))
    return e.state is Direction.BACKWARD


def test_the_pelvis_swinging_from_step_to_step_is_not_a_turn():
    swing = lambda t: 0.6 * math.sin(2 * math.pi * 0.9 * t)  # noqa: E731 (the stride's yaw swing)
    e = estimator("forward")
    walk(e, 0.0, 60.0, yaw_radps=swing, **FORWARD_WALK)
    assert not [c for c in e.changes if c.cue is Cue.TURNED]


def test_after_a_turn_the_gait_confirms_the_new_direction_rather_than_pulling_it_back():
    e = estimator("forward")
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    walk(e, 20.0, 22.0, yaw_radps=turn(180.0, start_s=20.0))
    walk(e, 22.0, 60.0, **BACKWARD_WALK)
    assert [c.cue for c in e.changes] == [Cue.TURNED]
    assert e.state is Direction.BACKWARD


def test_a_turn_the_gait_contradicts_is_undone_by_the_gait():
    e = estimator("forward")
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    walk(e, 20.0, 22.0, yaw_radps=turn(180.0, start_s=20.0))
    walk(e, 22.0, 60.0, **FORWARD_WALK)  # overground: turned, and walks on forward
    assert [c.cue for c in e.changes] == [Cue.TURNED, Cue.GAIT_FORWARD]
    assert e.state is Direction.FORWARD


# -- in the core: the belt's limit follows the direction ---------------------------------------

def tick_samples(t: float, *, lead_rad: float, yaw_radps=lambda t: 0.0) -> list[tuple]:
    """One 100 Hz loop tick's IMU samples (two, at RATE) of a walker's gait, turning at yaw_radps(t)."""
    samples = []
    for j in range(2):
        ts = t + j / RATE
        front, up = gait(ts, step_hz=1.8, bounce_mps2=2.0, lead_rad=lead_rad)
        sway = 0.01 * math.sin(2 * math.pi * 0.9 * ts)  # every channel moves, as on a person
        samples.append((ts, front, sway, up, sway, -sway, 0.5 * sway + yaw_radps(ts)))
    return samples


def core_walking(walking: str, config: Config = Config(), *, lead_rad: float, belt_mps: float,
                 until_s: float = 20.0) -> list:
    core = SafetyCore(config, start_s=0.0, walking=walking, imu_mount=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                      has_belt=True, has_range=False, ceiling_mps=config.belt.max_backward_mps)
    verdicts = []
    for k in range(int(until_s * 100)):
        t = k / 100
        core.ingest_imu(tick_samples(t, lead_rad=lead_rad))
        core.ingest_belt(t, belt_mps)
        if k == 1:
            core.request_reset()
        verdicts.append(core.tick(t))
    return verdicts


def test_a_walker_found_to_face_the_rear_gets_the_backward_limit():
    config = with_settings(drift={"enabled": False})
    verdicts = core_walking("forward", config, lead_rad=-1.5, belt_mps=2.0)
    trip = next(v for v in verdicts if v.is_new_trip).trip
    assert trip.reason == "overspeed" and trip.problems[0].values["max_speed_mps"] == 1.8


def test_a_walker_confirmed_forward_from_auto_gets_the_forward_limit():
    config = with_settings(drift={"enabled": False}, session={"walking": "auto"})
    verdicts = core_walking("auto", config, lead_rad=1.5, belt_mps=2.0)
    tripped = [v for v in verdicts if v.is_new_trip]
    assert tripped and tripped[0].trip.reason == "overspeed"  # unknown at first: the backward limit...
    assert tripped[0].t_s < 1.0
    verdicts = core_walking("auto", config, lead_rad=1.5, belt_mps=1.7)
    assert not [v for v in verdicts if v.is_new_trip]


def test_direction_off_keeps_the_declared_direction():
    config = with_settings(drift={"enabled": False}, direction={"enabled": False})
    verdicts = core_walking("forward", config, lead_rad=-1.5, belt_mps=2.0)
    assert not [v for v in verdicts if v.is_new_trip]


def test_a_real_forward_walk_reversed_in_time_reads_backward():
    from monitor.formats.trace_reader import read_trace
    from monitor.service.sessions.replay import replay

    trace = read_trace(sisfall("D01-SA01-R01"))
    result = replay(trace, Config())
    assert result.direction_start == "forward" and result.direction_changes == ()
    from monitor.formats.trace_format import Trace

    reversed_ = Trace(trace.path, trace.meta, trace.t_s, trace.accel_mps2[::-1].copy(), -trace.gyro_radps[::-1],
                      trace.imu_ok[::-1].copy(), None, None)
    result = replay(reversed_, Config())
    assert [c["direction"] for c in result.direction_changes] == ["backward"]
    assert result.direction_changes[0]["t"] - trace.t_s[0] < 15.0
    assert '"direction_changes": [{"t": ' in result.to_json()


def test_each_change_of_direction_is_one_line_in_the_journal():
    from types import SimpleNamespace

    from monitor.service.outputs.direction_journal import DirectionJournal

    said = []
    journal = DirectionJournal(say=said.append, threaded=False)
    e = estimator("forward")
    core = SimpleNamespace(direction=e)
    journal.on_tick(None, core)
    walk(e, 0.0, 10.0, yaw_radps=turn(180.0))
    journal.on_tick(None, core)
    journal.on_tick(None, core)  # the same change is said once
    journal.drain()
    assert len(said) == 1 and said[0].startswith("treadguard: walker facing the rear (after a turn of 1")
    assert said[0].endswith("the backward limits apply")
    journal.close()


def test_a_trip_record_keeps_the_direction_the_body_showed():
    from monitor.safety.verdict import Problem, Trip
    from monitor.service.trips.trip_record import TripStart, explanation_of

    trip = Trip(5.0, (Problem("overspeed", "belt_overspeed", 5.0, {"belt_mps": 2.0}),))
    start = TripStart(trip, 0.0, "forward", None, [], None, None, None, 1.0, "backward")
    explained = explanation_of(start, "x.csv.gz")
    assert explained["walking"] == "forward" and explained["direction"] == "backward"


def test_without_a_belt_sensor_a_turn_leaves_it_to_the_gait():
    e = estimator("forward", has_belt=False)
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    walk(e, 20.0, 22.0, yaw_radps=turn(180.0, start_s=20.0))
    assert e.state is Direction.UNKNOWN and e.changes[-1].cue is Cue.TURNED_UNSURE
    walk(e, 22.0, 40.0, **FORWARD_WALK)  # overground: turned, and walks on forward
    assert [c.cue for c in e.changes] == [Cue.TURNED_UNSURE, Cue.GAIT_FORWARD]
