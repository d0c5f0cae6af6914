"""Stopped-stepping drift: steps found on the walker's own gait, the no-step limit
set by their own cadence, and the trip at every threshold, just inside and just
outside. The clock is the samples' own time; nothing sleeps."""

import dataclasses
import math

import numpy as np
import pytest

from monitor.config.schema import Config, DriftConfig
from monitor.safety.drift import MIN_STEP_S, PERIOD_STEPS, StepDrift, StepTracker
from tests.support import Driver, G, standing, with_settings

RATE = 256.0  # samples per second: 1/256 s is exact


def tracker(drift: DriftConfig = DriftConfig(), start_s: float = 0.0) -> StepTracker:
    return StepTracker(
        band_low_hz=drift.step_band_low_hz, band_high_hz=drift.step_band_high_hz,
        level_tau_s=drift.step_level_tau_s, level_ratio=drift.step_level_ratio, floor_mps2=drift.step_floor_mps2,
        period_ratio=drift.no_step_period_ratio, longest_ratio=drift.no_step_longest_ratio,
        min_no_step_s=drift.min_no_step_s,
        max_no_step_s=drift.max_no_step_s, steps_to_learn=drift.steps_to_learn, start_s=start_s)


def gait(t0_s: float, t1_s: float, period_s: float, size_mps2: float = 2.0, rate_hz: float = RATE,
         soft_every: int = 0):
    """Vertical specific force of a walker: one smooth rise per step (a raised
    cosine of period_s), optionally every soft_every-th step at half size."""
    n = int(round((t1_s - t0_s) * rate_hz))
    out = []
    for k in range(n):
        t = t0_s + k / rate_hz
        phase = (t - t0_s) / period_s
        size = size_mps2 / 2 if soft_every and int(phase) % soft_every == soft_every - 1 else size_mps2
        out.append((t, G + size * math.sin(2 * math.pi * phase)))
    return out


def quiet(t0_s: float, t1_s: float, sway_mps2: float = 0.05, rate_hz: float = RATE):
    """Standing: gravity and a slow sway far under any step."""
    n = int(round((t1_s - t0_s) * rate_hz))
    return [(t0_s + k / rate_hz, G + sway_mps2 * math.sin(2 * math.pi * 0.4 * k / rate_hz)) for k in range(n)]


def feed(steps: StepTracker, samples) -> list[float]:
    return [t for t, v in samples if steps.sample(t, v)]


# -- steps on the walker's own gait -------------------------------------------------------------------

@pytest.mark.parametrize("size_mps2", [0.6, 2.0, 8.0])
def test_every_step_counts_soft_or_hard(size_mps2):
    """A soft slow gait (0.6 m/s², under the old fixed 1.5 m/s² threshold) counts
    its steps as a hard one does: one step per period, none missed or doubled."""
    found = feed(tracker(), gait(0.0, 10.0, 0.7, size_mps2))
    intervals = [b - a for a, b in zip(found, found[1:])]
    assert len(found) == pytest.approx(10.0 / 0.7, abs=1.5)
    assert all(abs(i - 0.7) < 0.02 for i in intervals[1:]), intervals


@pytest.mark.parametrize("rate_hz", [50.0, 100.0, 500.0, 2000.0])
def test_steps_and_period_do_not_depend_on_the_sample_rate(rate_hz):
    steps = tracker()
    found = feed(steps, gait(0.0, 8.0, 0.5, rate_hz=rate_hz))
    assert len(found) == pytest.approx(16, abs=1)
    assert steps.period_s == pytest.approx(0.5, abs=0.02)


def test_quiet_standing_is_no_step_even_after_a_long_time():
    steps = tracker()
    assert feed(steps, quiet(0.0, 60.0, sway_mps2=0.2)) == []


def test_sway_just_after_stopping_is_no_step():
    """The walker's own step size carries over the decision, so standing's sway
    right after walking does not count as steps."""
    steps = tracker()
    feed(steps, gait(0.0, 10.0, 0.6, 3.0))
    assert feed(steps, quiet(10.0, 11.0, sway_mps2=0.25)) == []


def test_the_first_step_after_standing_counts():
    steps = tracker()
    feed(steps, quiet(0.0, 20.0))
    assert feed(steps, gait(20.0, 21.0, 0.6, 1.0))  # a soft first step


def test_soft_steps_of_an_uneven_gait_count():
    """Every third step at half the size (a hemiparetic gait's weak side) is still a step."""
    found = feed(tracker(), gait(0.0, 12.0, 0.6, 2.0, soft_every=3))
    assert max(b - a for a, b in zip(found[1:], found[2:])) < 0.65


# -- the floor and the walker's own level, each just inside and just outside ------------------------------

def band_peak(drift: DriftConfig, samples) -> float:
    """The largest band-passed value seen: what the floor judges."""
    steps = tracker(drift)
    peak = 0.0
    for t, v in samples:
        steps.sample(t, v)
        peak = max(peak, steps.band_mps2)
    return peak


@pytest.mark.parametrize("nudge,is_step", [(1 - 1e-6, True), (1 + 1e-6, False)])
def test_step_floor_boundary(nudge, is_step):
    one_rise = quiet(0.0, 2.0) + gait(2.0, 2.6, 1.2, 0.8)
    loose = dataclasses.replace(DriftConfig(), step_level_ratio=0.1, step_floor_mps2=0.1)
    peak = band_peak(dataclasses.replace(loose, step_floor_mps2=3.0), one_rise)
    drift = dataclasses.replace(loose, step_floor_mps2=peak * nudge)
    assert bool(feed(tracker(drift), one_rise)) is is_step


@pytest.mark.parametrize("nudge,is_step", [(1 - 1e-6, True), (1 + 1e-6, False)])
def test_step_level_ratio_boundary(nudge, is_step):
    """After steady walking and a moment's pause, a small rise counts only above
    the ratio times the walker's own RMS (the floor set far below it)."""
    walk = gait(0.0, 6.0, 0.6, 3.0) + quiet(6.0, 6.5)
    rise = gait(6.5, 6.8, 0.6, 1.5)
    loose = dataclasses.replace(DriftConfig(), step_floor_mps2=0.1)
    steps = tracker(loose)
    feed(steps, walk)
    ratio = 0.0
    for t, v in rise:
        steps.sample(t, v)
        ratio = max(ratio, steps.band_mps2 / steps.level_mps2)
    steps = tracker(dataclasses.replace(loose, step_level_ratio=ratio * nudge))
    feed(steps, walk)
    assert steps._is_armed
    assert bool(feed(steps, rise)) is is_step


# -- the walker's own period and the no-step limit ------------------------------------------------------

def test_the_limit_is_the_longest_until_the_period_is_learnt():
    drift = DriftConfig()
    steps = tracker(drift)
    found = []
    for t, v in gait(0.0, 5.0, 0.5):
        if steps.sample(t, v):
            found.append(t)
            learnt = len(found) - 1 >= drift.steps_to_learn
            assert (steps.no_step_limit_s < drift.max_no_step_s) is learnt, (len(found), steps.no_step_limit_s)


@pytest.mark.parametrize("period_s,limit_s", [
    (0.5, 1.5 * 0.5),  # 1.5 of the walker's own step period
    (0.75, 0.9),  # never longer than max_no_step_s
    (0.3, 0.6),  # never shorter than min_no_step_s (a run of quick steps)
])
def test_the_limit_is_set_by_the_walkers_own_cadence(period_s, limit_s):
    steps = tracker()
    feed(steps, gait(0.0, 10.0, period_s))
    assert steps.period_s == pytest.approx(period_s, abs=2 / RATE)
    assert steps.no_step_limit_s == pytest.approx(limit_s, abs=3 / RATE)


def test_one_missed_or_doubled_step_does_not_move_the_period():
    steps = tracker()
    feed(steps, gait(0.0, 6.0, 0.4))
    before = steps.period_s
    steps._learn(steps._counted_s + 0.8)  # a step missed: one interval of two periods
    assert steps.period_s == pytest.approx(before)
    steps._learn(steps._counted_s + 0.1)  # the same step seen twice
    assert steps.period_s == pytest.approx(before)


def test_a_rise_sooner_than_half_a_period_counts_as_movement_not_as_a_step_interval():
    steps = tracker()
    feed(steps, gait(0.0, 6.0, 0.5))
    intervals = list(steps._intervals_s)
    t = steps.last_step_s + 0.2
    steps._counted_s = steps.last_step_s
    steps.last_step_s = t
    steps._learn(t)
    assert steps._intervals_s == intervals and steps.last_step_s == t


def test_a_pause_starts_the_learning_anew():
    """After standing (on the rails, say) the first steps back get the longest limit again."""
    drift = DriftConfig()
    steps = tracker(drift)
    feed(steps, gait(0.0, 6.0, 0.5))
    assert steps.no_step_limit_s < drift.max_no_step_s
    steps._learn(steps.last_step_s + drift.max_no_step_s + 1e-6)
    assert steps.period_s is None and steps.no_step_limit_s == drift.max_no_step_s


@pytest.mark.parametrize("interval_s,is_kept", [(MIN_STEP_S, True), (math.nextafter(MIN_STEP_S, 0), False)])
def test_min_step_boundary(interval_s, is_kept):
    steps = tracker()
    steps._counted_s = 0.0
    steps._learn(interval_s)
    assert bool(steps._intervals_s) is is_kept


def test_the_period_is_the_median_of_the_last_few_intervals():
    steps = tracker()
    steps._counted_s = 0.0
    t = 0.0
    for interval in [0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.6, 0.6]:
        t += interval
        steps._learn(t)
    assert len(steps._intervals_s) == PERIOD_STEPS
    assert steps.period_s == 0.5


# -- the trip, in the core ---------------------------------------------------------------------------

def vertical_only(samples, seed=3):
    """Samples for the core: the vertical on z (identity mount), the other channels
    with a live sensor's noise only (a channel stuck at zero is a sensor fault)."""
    noise = np.random.default_rng(seed)
    return [(t, *noise.normal(0.0, 0.05, 2), v, *noise.normal(0.0, 0.01, 3)) for t, v in samples]


def stop_run(belt_mps, *, period_s=0.5, walk_until_s=6.0, config=Config()):
    """Walk, then stand, the belt at belt_mps throughout; the first trip's verdict."""
    d = Driver(config, has_belt=True)
    d.imu(vertical_only(gait(0.0, walk_until_s, period_s)) + vertical_only(quiet(walk_until_s, walk_until_s + 5)))
    d.core.ingest_belt(0.0, belt_mps)
    d.arm(0.0)
    for k in range(1, int((walk_until_s + 4) * 64)):
        d.core.ingest_belt(k / 64, belt_mps)
        verdict = d.tick(k / 64)
        if verdict.is_new_trip:
            return d, verdict
    return d, None


def test_a_walker_who_keeps_stepping_on_a_running_belt_never_trips():
    _, trip = stop_run(1.5, walk_until_s=30.0)
    assert trip is None or trip.t_s > 30.0


@pytest.mark.parametrize("period_s", [0.4, 0.5, 0.6, 0.75])
def test_a_walker_who_stops_is_caught_within_their_own_limit(period_s):
    d, verdict = stop_run(1.25, period_s=period_s)
    problem = verdict.trip.problems[0]
    assert (problem.reason, problem.detail) == ("drift", "stopped_stepping")
    steps = d.core.step_drift.steps
    assert verdict.t_s - steps.last_step_s == pytest.approx(steps.no_step_limit_s, abs=1 / 64 + 1e-9)
    assert steps.no_step_limit_s == pytest.approx(min(0.9, max(0.6, 1.5 * period_s)), abs=3 / RATE)
    assert problem.values["step_period_s"] == pytest.approx(period_s, abs=2 / RATE)
    assert problem.values["no_step_limit_s"] == steps.no_step_limit_s


def test_the_trip_comes_at_the_no_step_limit_not_a_tick_before():
    d, verdict = stop_run(1.25)
    steps = d.core.step_drift.steps
    before = [v for v in d.verdicts if v.t_s < verdict.t_s]
    assert verdict.t_s >= steps.last_step_s + steps.no_step_limit_s
    assert before[-1].t_s < steps.last_step_s + steps.no_step_limit_s and before[-1].is_relay_energized


def test_before_the_period_is_known_the_trip_waits_the_longest_limit():
    """A walker who takes two steps and stands: no cadence yet, so max_no_step_s."""
    d, verdict = stop_run(1.25, walk_until_s=1.0)
    assert verdict.trip.problems[0].values["no_step_limit_s"] == Config().drift.max_no_step_s
    assert "step_period_s" not in verdict.trip.problems[0].values


@pytest.mark.parametrize("belt_mps,is_trip", [(0.3, True), (math.nextafter(0.3, 0.0), False)])
def test_min_belt_speed_boundary(belt_mps, is_trip):
    _, trip = stop_run(belt_mps)
    assert (trip is not None) is is_trip


def test_on_a_slow_belt_the_trip_waits_for_the_carry_distance():
    """At 0.3125 m/s the limit (0.75 s) carries the walker only 0.23 m: the trip
    waits until the belt has carried them max_carry_m (0.25 m)."""
    d, verdict = stop_run(0.3125)
    values = verdict.trip.problems[0].values
    assert values["no_step_s"] > values["no_step_limit_s"]
    assert values["carried_m"] == pytest.approx(0.25, abs=0.3125 / 64 + 1e-9)


CARRY_PER_TICK_M = 0.3125 / 64  # exact in binary, so the carried distance is exact too


@pytest.mark.parametrize("extra_m,is_trip", [(0.0, True), (1e-9, False)])
def test_max_carry_boundary(extra_m, is_trip):
    """On a slow belt the trip comes at the tick the carried distance reaches
    max_carry_m; a hair more and that tick is still clear."""
    carry_m = 52 * CARRY_PER_TICK_M  # 0.254 m, more than the no-step limit carries at 0.3125 m/s
    config = with_settings(drift={"max_carry_m": carry_m + extra_m, "min_belt_mps": 0.3125})
    d = Driver(config, has_belt=True)
    d.imu(vertical_only(gait(0.0, 6.0, 0.5)) + vertical_only(quiet(6.0, 8.0)))
    d.core.ingest_belt(0.0, 0.3125)
    d.arm(0.0)
    for k in range(1, int(7.5 * 64)):
        d.core.ingest_belt(k / 64, 0.3125)
        verdict = d.tick(k / 64)
        if d.core.step_drift.carried_m == carry_m:
            break
    assert verdict.is_new_trip is is_trip


def test_stepping_again_resets_the_carry():
    drift = StepDrift(tracker(), min_belt_mps=0.3, max_carry_m=0.25, start_s=0.0)
    problems = []
    for t, v in gait(0.0, 3.0, 0.5):
        drift.sample(t, v)
        if round(t * RATE) % 4 == 0:
            drift.check(t, 1.0, problems)
    assert problems == [] and drift.carried_m <= 1.0 * (0.5 + 1 / 64)  # never more than one step's worth


def test_step_drift_is_off_when_a_range_sensor_sees_position():
    d = Driver(Config(), has_belt=True, has_range=True)
    assert not d.core.is_step_drift_on


def test_standing_without_a_belt_never_trips():
    d = Driver(Config(), has_belt=False)
    d.imu(standing(0.0, 5.0, RATE))
    d.arm(0.0)
    assert all(d.tick(k / 64).is_relay_energized for k in range(1, 4 * 64))


@pytest.mark.parametrize("longest_s,limit_s", [
    (0.5, 1.5 * 0.4),  # 1.2 x 0.5 = 0.6 is not more than 1.5 x the median 0.4: the median sets it
    (0.5625, 1.2 * 0.5625),  # one slow step after quick ones: 1.2 x the longest, 0.675 s
])
def test_a_slow_step_among_quick_ones_widens_the_limit(longest_s, limit_s):
    steps = tracker()
    steps._counted_s = 0.0
    t = 0.0
    for interval in [0.4, 0.4, 0.4, 0.4, longest_s]:
        t += interval
        steps._learn(t)
    assert steps.period_s == 0.4
    assert steps.no_step_limit_s == pytest.approx(limit_s)
