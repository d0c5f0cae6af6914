"""The walking direction at its edges: a turn at the turn rate and at the turn angle on both sides, what a
turn records, what it does to the gait's evidence, and when the gait may speak at all.

Turns are fed at four samples a second, slow enough that the smoothed rate is the rate itself, so each
limit can be met exactly."""

from __future__ import annotations

import math

import pytest

from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.direction import Change, Cue, Direction, DirectionEstimator
from tests.support import IDENTITY_MOUNT, G, with_settings
from tests.test_direction import (
    BACKWARD_WALK,
    FORWARD_WALK,
    RATE,
    estimator,
    first_change,
    gait,
    tick_samples,
    turn,
    walk,
)

DT_S = 0.25  # four samples a second: the turn smoothing settles within one sample
TURN_RATE = Config().direction.turn_rate_radps


def quarter_second_turn(e, rate_radps: float, samples: int, t0_s: float = 0.0) -> float:
    """Still, then `samples` samples turning at rate_radps, then still again; the time the turn ended."""
    e.sample(t0_s, 0.0, G, 0.0)
    for k in range(1, samples + 1):
        e.sample(t0_s + k * DT_S, 0.0, G, rate_radps)
    end_s = t0_s + (samples + 1) * DT_S
    e.sample(end_s, 0.0, G, 0.0)
    return end_s


def turned_deg(rate_radps: float, samples: int) -> float:
    angle = 0.0
    for _ in range(samples):
        angle += rate_radps * DT_S
    return math.degrees(angle)


@pytest.mark.parametrize("rate, turns", [(TURN_RATE, True), (math.nextafter(TURN_RATE, 0.0), False)])
def test_a_turn_at_the_turn_rate_counts_and_a_hair_slower_does_not(rate, turns):
    samples = math.ceil(math.pi / (rate * DT_S)) + 1  # more than a half turn in all
    e = estimator("forward", turn_min_deg=1.0)
    quarter_second_turn(e, rate, samples)
    assert (e.state is Direction.BACKWARD) == turns


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("above, turns", [(0.0, True), (1.0, False)])
def test_a_turn_of_exactly_the_turn_angle_flips_and_a_hair_less_does_not(sign, above, turns):
    rate, samples = sign * 2.0 * TURN_RATE, 5
    angle_deg = abs(turned_deg(rate, samples))
    min_deg = math.nextafter(angle_deg, math.inf) if above else angle_deg
    e = estimator("forward", turn_min_deg=min_deg)
    end_s = quarter_second_turn(e, rate, samples)
    assert (e.state is Direction.BACKWARD) == turns
    if turns:
        (change,) = e.changes
        assert change.t_s == end_s and change.cue is Cue.TURNED
        assert change.turn_deg == turned_deg(rate, samples)  # the turn's own angle, with its sign


def test_the_angle_of_a_turn_is_of_that_turn_only():
    e = estimator("forward", turn_min_deg=100.0)
    rate = 2.0 * TURN_RATE
    samples = math.floor(math.radians(60.0) / (rate * DT_S))  # about 60 degrees
    end_s = quarter_second_turn(e, rate, samples)
    end_s = quarter_second_turn(e, rate, samples, t0_s=end_s + DT_S)  # and another: two turns of 60, not one of 120
    assert e.state is Direction.FORWARD and not e.changes


def test_after_a_turn_on_the_belt_the_evidence_so_far_counts_the_other_way_round():
    e = estimator("forward")
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    assert e.evidence == 1.0
    walk(e, 20.0, 22.0, yaw_radps=turn(180.0, start_s=20.0))
    assert e.state is Direction.BACKWARD and e.evidence == -1.0


def test_after_a_turn_off_the_belt_the_evidence_starts_from_nothing():
    e = estimator("forward", has_belt=False)
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    walk(e, 20.0, 22.0, yaw_radps=turn(180.0, start_s=20.0))
    assert e.state is Direction.UNKNOWN and e.evidence == 0.0


def test_a_turn_forgets_the_gait_so_far_and_it_takes_the_gait_time_to_speak_again():
    e = estimator("backward")
    walk(e, 0.0, 20.0, **FORWARD_WALK)  # the gait corrects a wrong declaration
    walk(e, 20.0, 22.0, yaw_radps=turn(180.0, start_s=20.0))
    assert e.gait == "none"
    ended_s, tau_s = e.changes[-1].t_s, Config().direction.gait_tau_s
    walk(e, 22.0, ended_s + tau_s - 0.05, **FORWARD_WALK)
    assert e.gait == "none"  # still warming up on the new facing
    walk(e, ended_s + tau_s - 0.05, ended_s + tau_s + 0.05, **FORWARD_WALK)
    assert e.gait == "walking"


def test_the_evidence_never_goes_past_certain():
    e = estimator("auto")
    walk(e, 0.0, 60.0, **BACKWARD_WALK)
    assert e.evidence == -1.0 and e.state is Direction.BACKWARD
    e = estimator("auto")
    walk(e, 0.0, 60.0, **FORWARD_WALK)
    assert e.evidence == 1.0 and e.state is Direction.FORWARD


def test_a_gait_judged_tells_its_cadence_and_bounce():
    e = estimator("auto")
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    assert e.step_hz == pytest.approx(1.8, rel=0.05)
    assert 1.0 < e.bounce_mps2 < 3.0
    assert e.raw_correlation == e.correlation > 0.5


def test_a_running_gait_reports_the_raw_correlation_the_other_way_round():
    e = estimator("auto")
    walk(e, 0.0, 30.0, step_hz=2.7, bounce_mps2=6.0, lead_rad=1.5, running=True)
    assert e.gait == "running" and e.correlation == -e.raw_correlation and e.correlation > 0.0


def bounce_when_first_judged(e, t0_s: float, t1_s: float) -> tuple[float, float]:
    """The time and the vertical bounce when the gait is first called walking."""
    for k in range(int(round((t1_s - t0_s) * RATE))):
        t = t0_s + k / RATE
        front, up = gait(t, **FORWARD_WALK)
        e.sample(t, front, up, 0.0)
        if e.gait == "walking":
            return t, e.bounce_mps2
    raise AssertionError("never judged walking")


def test_the_first_bounce_judged_is_the_walks_own_not_the_step_from_nothing_to_gravity():
    e = estimator("auto")
    t_s, first = bounce_when_first_judged(e, 0.0, 20.0)
    walk(e, t_s + 1 / RATE, 30.0, **FORWARD_WALK)
    assert first == pytest.approx(e.bounce_mps2, rel=0.1)
    e.gap()  # and again after a hole in the samples
    assert bounce_when_first_judged(e, 40.0, 60.0)[1] == pytest.approx(e.bounce_mps2, rel=0.1)


def test_the_bounce_is_the_vertical_movement_through_the_step_band():
    """Status shows it, and walking and running are told apart by it: a step-frequency movement of
    RMS 2 m/s^2 reads as 2 m/s^2 through the step band (one pole at 0.5 Hz, one at 3 Hz), no more."""
    e = estimator("auto")
    walk(e, 0.0, 30.0, **FORWARD_WALK)
    f = FORWARD_WALK["step_hz"]
    through_band = f / math.hypot(f, 0.5) / math.hypot(1.0, f / 3.0)
    assert e.bounce_mps2 == pytest.approx(2.0 * through_band, rel=0.02)


def test_after_a_hole_in_the_samples_standing_still_keeps_the_direction():
    e = estimator("backward")
    walk(e, 0.0, 5.0)
    e.gap()
    walk(e, 6.0, 10.0)
    assert e.state is Direction.BACKWARD and not e.changes


# -- the gait's limits, met exactly: the same samples twice, the limit set to what the first run measured
EXACT_RATE = 128.0  # binary-exact sample times, so the warm-up time adds up exactly


def gait_samples(until_s: float, **g):
    for k in range(int(until_s * EXACT_RATE)):
        t = k / EXACT_RATE
        front, up = gait(t, **g)
        yield t, front, up


def measured_at(at_s: float, g: dict, **changed) -> dict:
    """What the estimator saw at the sample at_s (a walk from 0 s)."""
    e = estimator("auto", **changed)
    seen = {}
    for t, front, up in gait_samples(at_s + 1 / EXACT_RATE, **g):
        before = e.evidence
        e.sample(t, front, up, 0.0)
        seen = dict(gait=e.gait, step_hz=e.step_hz, bounce=e.bounce_mps2, correlation=e.correlation,
                    evidence_moved=e.evidence != before)
    return seen


RUN = dict(step_hz=2.7, bounce_mps2=6.0, lead_rad=1.5, running=True)


@pytest.mark.parametrize("limit, g, name", [
    ("walk_max_step_hz", FORWARD_WALK, "walking"), ("walk_max_vertical_mps2", FORWARD_WALK, "walking"),
    ("run_min_step_hz", RUN, "running"), ("run_min_vertical_mps2", RUN, "running")])
def test_a_gait_exactly_at_its_limit_is_that_gait_and_a_hair_beyond_is_not(limit, g, name):
    at_s = 8.0
    seen = measured_at(at_s, g)
    assert seen["gait"] == name
    value = seen["step_hz" if "step_hz" in limit else "bounce"]
    assert measured_at(at_s, g, **{limit: value})["gait"] == name
    beyond = math.nextafter(value, 0.0 if limit.startswith("walk") else math.inf)
    assert measured_at(at_s, g, **{limit: beyond})["gait"] == "unsure"


@pytest.mark.parametrize("nudge, counts", [(0.0, True), (1.0, False)])
def test_a_correlation_exactly_at_the_minimum_is_evidence_and_a_hair_weaker_is_not(nudge, counts):
    at_s = 4.0  # judged, and far from certain yet
    correlation = abs(measured_at(at_s, BACKWARD_WALK)["correlation"])
    minimum = math.nextafter(correlation, math.inf) if nudge else correlation
    assert measured_at(at_s, BACKWARD_WALK, min_correlation=minimum)["evidence_moved"] == counts


def test_the_gait_speaks_once_it_has_watched_exactly_its_time_and_not_a_sample_before():
    tau_s = 3.0
    e = estimator("auto", gait_tau_s=tau_s)
    judged = []
    for t, front, up in gait_samples(3.1, **FORWARD_WALK):
        e.sample(t, front, up, 0.0)
        judged.append((t, e.gait))
    first = next(t for t, gait_name in judged if gait_name != "none")
    assert first == tau_s  # tau_s of data since the first sample (at 0 s), exactly


def test_a_short_gait_time_waits_for_the_steps_all_the_same():
    e = estimator("auto", gait_tau_s=0.25)
    walk(e, 0.0, 10.0, **FORWARD_WALK)
    assert e.gait == "walking" and e.state is Direction.FORWARD


def test_the_gait_stops_speaking_when_the_steps_stop_for_a_second_and_a_half():
    e = estimator("auto")
    walk(e, 0.0, 20.0, **FORWARD_WALK)
    last_step_s = e.steps.last_step_s
    t_s = last_step_s + 1.5
    assert t_s - last_step_s == 1.5  # met exactly
    t = 20.0
    while t < t_s:
        e.sample(t, 0.0, G, 0.0)
        t += 1 / 256
    e.sample(t_s, 0.0, G, 0.0)
    assert e.gait != "none"  # still stepping at exactly 1.5 s
    e.sample(t_s + 1 / 256, 0.0, G, 0.0)
    assert e.gait == "none"


# -- what a new estimator says, what each change records, and how fast the gait decides
def test_an_estimator_built_without_saying_so_assumes_a_belt_sensor():
    d = Config().direction
    params = estimator().params
    e = DirectionEstimator(params, estimator().steps, walking="forward", has_front=True, start_s=0.0)
    quarter_second_turn(e, 2.0 * d.turn_rate_radps, 8)  # about 130 degrees or more at 1.2 rad/s
    assert e.state is Direction.BACKWARD and e.changes[-1].cue is Cue.TURNED


def test_before_any_gait_the_status_numbers_are_zero():
    e = estimator("auto")
    assert (e.correlation, e.raw_correlation, e.step_hz, e.bounce_mps2, e.evidence) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert e.gait == "none"


def test_a_turn_from_the_very_first_sample_is_measured_as_one_later():
    angles = []
    for start_s in (0.0, 5.0):
        e = estimator("forward")
        walk(e, start_s, start_s + 3.0, yaw_radps=turn(180.0, start_s=start_s))
        angles.append(first_change(e).turn_deg)
    assert angles[0] == pytest.approx(angles[1], rel=1e-6)


def test_the_last_thousand_changes_are_kept_the_newest_last():
    e = estimator("forward", turn_min_deg=1.0)
    t_s = 0.0
    for _ in range(1001):
        t_s = quarter_second_turn(e, 2.0 * TURN_RATE, 1, t0_s=t_s + DT_S)
    assert len(e.changes) == 1000 and e.changes[-1].t_s == t_s


def test_a_turn_with_no_belt_sensor_records_when_and_how_far():
    e = estimator("forward", has_belt=False, turn_min_deg=1.0)
    rate, samples = 2.0 * TURN_RATE, 3
    end_s = quarter_second_turn(e, rate, samples)
    assert list(e.changes) == [Change(end_s, Direction.UNKNOWN, Cue.TURNED_UNSURE, turned_deg(rate, samples))]


def test_with_no_fore_aft_movement_at_all_the_gait_gives_no_evidence():
    e = estimator("auto")
    for k in range(int(20 * RATE)):
        t = k / RATE
        _, up = gait(t, **FORWARD_WALK)
        e.sample(t, 0.0, up, 0.0)  # a mount whose fore-aft axis reads exactly nothing
    assert e.gait == "walking" and e.raw_correlation == 0.0 and e.state is Direction.UNKNOWN


def test_a_faint_fore_aft_signature_is_read_as_well_as_a_strong_one():
    e = estimator("auto")
    for k in range(int(20 * RATE)):
        t = k / RATE
        front, up = gait(t, **BACKWARD_WALK)
        e.sample(t, front * 0.001, up, 0.0)  # a thousandth of the usual fore-aft movement
    assert e.state is Direction.BACKWARD and e.correlation < -0.9


def test_a_clear_gait_decides_in_about_evidence_s_once_it_speaks():
    evidence_s = Config().direction.evidence_s
    e = estimator("auto")
    spoke_s = None
    for k in range(int(20 * RATE)):
        t = k / RATE
        front, up = gait(t, **FORWARD_WALK)
        e.sample(t, front, up, 0.0)
        if spoke_s is None and e.gait == "walking":
            spoke_s = t
    (change,) = e.changes
    assert change.cue is Cue.GAIT_FORWARD and change.direction is Direction.FORWARD
    assert evidence_s <= change.t_s - spoke_s <= evidence_s / 0.95  # |correlation| is above 0.95


def test_a_slow_yaw_below_the_turn_rate_from_the_first_sample_is_no_turn_however_small_the_limit():
    e = estimator("forward", turn_min_deg=1.0)
    dt_s = 0.5 / (2 * math.pi * 0.7)  # the turn smoothing halves the gap to the rate at each sample
    for k in range(100):
        e.sample(k * dt_s, 0.0, G, 0.8 * TURN_RATE)
    assert e.state is Direction.FORWARD and not e.changes


def test_timestamps_that_jitter_read_the_gait_as_steady_ones_do():
    def correlation(jitter_s: float) -> float:
        e = estimator("auto")
        t = 0.0
        for k in range(int(20 * RATE)):
            front, up = gait(t, **FORWARD_WALK)
            e.sample(t, front, up, 0.0)
            t += 1 / RATE + (jitter_s if k % 2 else -jitter_s)
        return e.correlation

    assert correlation(0.001) == pytest.approx(correlation(0.0), abs=0.02)


# -- in the core: the mount faces the declared way ----------------------------------------------------------

def core_after_walking(walking: str, lead_rad: float, until_s: float = 12.0, belt_mps: float | None = 0.45,
                       yaw_radps=lambda t: 0.0) -> SafetyCore:
    """A core fed a walker's own gait for until_s (or until it trips), the mount calibrated facing the
    declared way (so a backward walker's sensor x points to the rear), the belt at belt_mps
    (by default under a new backward walker's ceiling; None: no belt sensor), turning at yaw_radps."""
    config = with_settings(Config(), drift={"enabled": False}, session={"walking": walking})
    core = SafetyCore(config, start_s=0.0, walking=walking, imu_mount=IDENTITY_MOUNT, has_belt=belt_mps is not None,
                      has_range=False)
    for k in range(int(until_s * 100)):
        t = k / 100
        core.ingest_imu(tick_samples(t, lead_rad=lead_rad, yaw_radps=yaw_radps))
        if belt_mps is not None:
            core.ingest_belt(t, belt_mps)
        if k == 1:
            core.request_reset()
        if core.tick(t).is_new_trip:
            break
    return core


@pytest.mark.parametrize("walking", ["forward", "backward"])
def test_a_walker_stepping_the_way_they_face_stays_the_declared_direction_and_their_steps_count_for_it(walking):
    """Their gait read along their own front (the sensor's x, turned round for a walker declared
    backward) says they walk the way declared: no change, the limit of that direction, and their
    steps judged for steadiness and counted in that direction's session."""
    core = core_after_walking(walking, lead_rad=1.5)
    assert core.direction.state is Direction(walking) and list(core.direction.changes) == []
    assert core.speed_limit_mps() == (4.5 if walking == "forward" else 1.8)
    assert core.steadiness.step_cv is not None
    assert core.steadiness.session[walking].steps > 0


def test_a_walker_found_to_face_the_rear_above_the_backward_limit_trips_confirm_s_after_the_change():
    """The lower limit counts from the tick that learnt the new direction, not from the next belt reading."""
    core = core_after_walking("forward", lead_rad=-1.5, belt_mps=2.0)
    change = list(core.direction.changes)[0]
    assert change.direction is Direction.BACKWARD
    problem = core.trip.problems[0]
    assert problem.detail == "belt_overspeed" and problem.values["max_speed_mps"] == 1.8
    assert core.trip.t_s - change.t_s == pytest.approx(0.3, abs=0.005)
    assert problem.values["over_for_s"] == pytest.approx(0.3, abs=0.005)


@pytest.mark.parametrize("belt_mps,cue", [(0.45, Cue.TURNED), (None, Cue.TURNED_UNSURE)])
def test_a_half_turn_in_the_core_flips_the_facing_on_a_belt_and_leaves_it_for_the_gait_without_one(belt_mps, cue):
    """With a belt sensor the walker is on a treadmill, so a half turn changes the way they face it;
    without one they may have stepped off, and the turn alone says nothing sure."""
    core = core_after_walking("forward", lead_rad=1.5, until_s=8.0, belt_mps=belt_mps, yaw_radps=turn(180.0))
    assert list(core.direction.changes)[0].cue is cue


@pytest.mark.parametrize("gap_samples,is_found", [(8, True), (9, False)])
def test_samples_exactly_the_imu_timeout_apart_are_no_hole_and_a_sample_further_apart_are(gap_samples, is_found):
    """A walker declared forward walks backwards, and every 2 s the samples pause: for exactly the
    IMU timeout (1/16 s here) the gait's statistics go on and the walker is found out; one sample
    longer is a hole, each restarts the gait's statistics, and 2 s is too short to judge a gait."""
    rate_hz = 128.0
    config = with_settings(Config(), drift={"enabled": False}, imu={"timeout_s": 1 / 16})
    core = SafetyCore(config, start_s=0.0, walking="forward", imu_mount=IDENTITY_MOUNT, has_belt=True,
                      has_range=False)
    k = 0
    while k < 12 * rate_hz:
        ts = k / rate_hz
        front, up = gait(ts, step_hz=1.8, bounce_mps2=2.0, lead_rad=-1.5)
        sway = 0.01 * math.sin(2 * math.pi * 0.9 * ts)
        core.ingest_imu([(ts, front, sway, up, sway, -sway, 0.5 * sway)])
        core.ingest_belt(ts, 0.45)
        if k == 1:
            core.request_reset()
        core.tick(ts)
        k += gap_samples if k % 256 == 255 else 1
    assert (core.direction.state is Direction.BACKWARD) is is_found


def decided_at_s(samples_per_s: float, walk_kind: dict) -> tuple[float, Direction]:
    """When, and which way, the gait decides a walker's direction, sampled this often."""
    e = estimator("auto")
    for k in range(int(30 * samples_per_s)):
        t = k / samples_per_s
        front, up = gait(t, **walk_kind)
        e.sample(t, front, up, 0.0)
        if e.changes:
            return t, e.state
    raise AssertionError(f"no direction decided in 30 s at {samples_per_s} samples a second")


@pytest.mark.parametrize("walk_kind, facing", [(FORWARD_WALK, Direction.FORWARD), (BACKWARD_WALK, Direction.BACKWARD)])
def test_a_slow_imu_finds_the_direction_about_as_soon_as_a_fast_one(walk_kind, facing):
    """Samples 125 ms apart (an IMU set to 8 Hz, with imu.timeout_s raised to let them through): every
    sample passes the gait's 3 Hz smoothing whole, so the walker is found within a second of 200 Hz."""
    fast_s, fast_facing = decided_at_s(200.0, walk_kind)
    slow_s, slow_facing = decided_at_s(8.0, walk_kind)
    assert fast_facing is slow_facing is facing
    assert slow_s - fast_s < 1.0
