"""Stopped-stepping drift at its start-up and re-arm constants: where the carried distance starts,
when a second rise of the waist counts as a new step, the no-step limit met exactly, how the
walker's own period is taken from their steps, what the step band keeps, and a hole in the data.

Times are multiples of 1/64 s and belt speeds multiples of 1/16 m/s, so the carried
distance is exact and a trip lands on a known tick.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from monitor.config.schema import Config, DriftConfig
from monitor.safety.drift import RangeDrift, StepDrift, StepTracker
from monitor.safety.verdict import Problem
from tests.support import Driver, G, with_settings

RATE = 256.0


def lively(k: int) -> tuple[float, float, float, float, float]:
    """The other five channels of a live sensor on a walker standing still."""
    return (0.01 * (k % 3), 0.02 * (k % 2), 0.011 * (k % 2), 0.012 * (k % 3), 0.013 * (k % 2))


def standing_still(t0_s: float, t1_s: float):
    n = round((t1_s - t0_s) * RATE)
    return [(t0_s + k / RATE, lively(k)[0], lively(k)[1], G + 0.001 * (k % 2), *lively(k)[2:]) for k in range(n)]


@pytest.mark.parametrize("belt_mps,carry_m,trip_s", [(0.5, 1.0, 2.0), (0.75, 1.5, 2.0), (1.0, 1.0, 1.0)])
def test_the_carried_distance_starts_at_zero_at_start(belt_mps, carry_m, trip_s):
    """A walker standing on a belt moving from the start is carried belt x time: the
    trip comes at the tick the carried distance reaches max_carry_m, not a tick sooner."""
    config = with_settings(Config(), drift={"max_carry_m": carry_m}, belt={"max_forward_mps": 4.5})
    d = Driver(config, has_belt=True)
    d.imu(standing_still(0.0, 3.0))
    d.core.ingest_belt(0.0, belt_mps)
    d.arm(0.0)
    first_trip = None
    for k in range(1, 3 * 64):
        d.core.ingest_belt(k / 64, belt_mps)
        verdict = d.tick(k / 64)
        if verdict.is_new_trip:
            first_trip = verdict
            break
    assert first_trip is not None and first_trip.t_s == trip_s
    values = first_trip.trip.problems[0].values
    assert values["carried_m"] == carry_m and values["belt_mps"] == belt_mps
    assert values["no_step_s"] == trip_s and values["no_step_limit_s"] == 0.9
    assert "step_period_s" not in values  # no cadence learnt: the longest limit


def test_a_belt_slower_than_min_belt_mps_carries_nothing():
    d = Driver(Config(), has_belt=True)
    d.imu(standing_still(0.0, 4.0))
    d.core.ingest_belt(0.0, 0.25)
    d.arm(0.0)
    for k in range(1, 4 * 64):
        d.core.ingest_belt(k / 64, 0.25)
        assert d.tick(k / 64).is_relay_energized
    assert d.core.step_drift.carried_m == 0.0


# -- when a second rise is a new step: the re-arm at half the threshold -----------------------------------

def double_rise(dip: float, rate_hz: float = RATE):
    """Walking (0.6 s steps), then one step whose rise dips to `dip` of its height and rises again."""
    out = []
    t = 0.0
    for k in range(round(4.0 * rate_hz)):
        t = k / rate_hz
        out.append((t, G + 2.0 * math.sin(2 * math.pi * t / 0.6)))
    t0 = 4.0
    for k in range(round(1.6 * rate_hz)):
        t = t0 + k / rate_hz
        phase = (t - t0) / 0.8  # two lobes in 0.8 s, the second after a dip
        if phase < 1.0:
            lobe = math.sin(2 * math.pi * phase) ** 2  # two lobes, peaks at 0.25 and 0.75, zero between
            shape = lobe if phase < 0.25 or phase > 0.75 else max(lobe, dip)  # the valley held at `dip`
        else:
            shape = 0.0
        out.append((t, G + 3.0 * shape))
    return out


def replay_rule(drift: DriftConfig, samples) -> tuple[list[float], list[float]]:
    """The tracker's steps, and the steps its documented rule gives on the band signal it reports:
    a rise past the threshold is a step only if, since the last step, the band signal fell to
    zero or to half the threshold (threshold = max(floor, level_ratio x the walker's level))."""
    steps = StepTracker(
        band_low_hz=drift.step_band_low_hz, band_high_hz=drift.step_band_high_hz,
        level_tau_s=drift.step_level_tau_s, level_ratio=drift.step_level_ratio, floor_mps2=drift.step_floor_mps2,
        period_ratio=drift.no_step_period_ratio, longest_ratio=drift.no_step_longest_ratio,
        min_no_step_s=drift.min_no_step_s, max_no_step_s=drift.max_no_step_s,
        steps_to_learn=drift.steps_to_learn, start_s=0.0)
    found, expected = [], []
    armed = False
    for t, v in samples:
        is_step = steps.sample(t, v)
        z = steps.band_mps2
        threshold = max(drift.step_floor_mps2, drift.step_level_ratio * steps.level_mps2)
        if z <= 0.0 or abs(z) <= 0.5 * threshold:
            armed = True
        elif armed and z > threshold:
            armed = False
            expected.append(t)
        if is_step:
            found.append(t)
    return found, expected


def test_a_second_rise_is_a_new_step_only_after_the_signal_fell_to_half_the_threshold():
    drift = DriftConfig()
    outcomes = set()
    for dip in [0.2 + 0.005 * i for i in range(30)] + [0.5, 0.8]:  # valleys from well under to well over half
        found, expected = replay_rule(drift, double_rise(dip))
        assert found == expected, dip
        late = [t for t in found if t >= 4.0]
        outcomes.add(len(late))
    assert outcomes >= {1, 2}  # the sweep holds dips that re-arm and dips that do not


# -- the no-step limit met exactly, and the walker's own period -------------------------------------------

def tracker(drift: DriftConfig = DriftConfig()) -> StepTracker:
    return StepTracker(
        band_low_hz=drift.step_band_low_hz, band_high_hz=drift.step_band_high_hz,
        level_tau_s=drift.step_level_tau_s, level_ratio=drift.step_level_ratio, floor_mps2=drift.step_floor_mps2,
        period_ratio=drift.no_step_period_ratio, longest_ratio=drift.no_step_longest_ratio,
        min_no_step_s=drift.min_no_step_s, max_no_step_s=drift.max_no_step_s,
        steps_to_learn=drift.steps_to_learn, start_s=0.0)


def steps_of(periods_s: list[float]):
    """Walking whose every step lasts its own period (one sine cycle of the waist per step)."""
    out, t0 = [], 0.0
    for period_s in periods_s:
        n = round(period_s * RATE)
        out += [(t0 + k / RATE, G + 2.0 * math.sin(2 * math.pi * k / n)) for k in range(n)]
        t0 += n / RATE
    return out


def test_a_walker_standing_from_the_start_trips_at_exactly_the_no_step_limit_with_the_carry_since_start():
    """No step since the start and the belt moving: the first tick at max_no_step_s trips, carried from the start."""
    drift = DriftConfig()
    for at_s in (math.nextafter(drift.max_no_step_s, 0.0), drift.max_no_step_s):
        check = StepDrift(tracker(drift), min_belt_mps=drift.min_belt_mps, max_carry_m=drift.max_carry_m, start_s=0.0)
        problems: list[Problem] = []
        check.check(at_s, 1.0, problems)
        if at_s < drift.max_no_step_s:
            assert problems == []
        else:
            assert problems == [Problem("drift", "stopped_stepping", at_s, {
                "no_step_s": at_s, "no_step_limit_s": drift.max_no_step_s, "carried_m": at_s, "belt_mps": 1.0})]


@pytest.mark.parametrize("step_s,is_learnt", [(0.5, True), (0.5 + 1 / RATE, False)])
def test_steps_exactly_max_no_step_s_apart_are_a_gait_and_a_sample_further_apart_are_pauses(step_s, is_learnt):
    steps = tracker(dataclasses.replace(DriftConfig(), max_no_step_s=0.5))
    found = [t for t, v in steps_of([step_s] * 20) if steps.sample(t, v)]
    assert len(found) >= 18
    assert (steps.period_s == 0.5) is is_learnt
    assert (steps.period_s is None) is not is_learnt


def test_the_period_is_the_middle_of_five_different_step_intervals():
    steps = tracker()
    for t, v in steps_of([0.4, 0.7, 0.5, 0.6, 0.8] * 3):
        steps.sample(t, v)
    assert steps.period_s == pytest.approx(0.6, abs=3 / RATE)


def test_the_period_forgets_the_oldest_step_interval_first():
    """After a slow first step and a change of cadence, the period is the last five steps' alone."""
    steps = tracker()
    for t, v in steps_of([0.8, 0.6, 0.4, 0.4, 0.4, 0.6, 0.6, 0.6]):
        steps.sample(t, v)
    assert steps.period_s == pytest.approx(0.4, abs=3 / RATE)


# -- the step band's corners, and a hole in the data --------------------------------------------------------

def band_gain(frequency_hz: float, cycles: int = 20) -> float:
    """The steady peak of the band-passed signal for a 1 m/s² sine of the waist at this frequency."""
    steps = tracker()
    n = round(cycles / frequency_hz * RATE)
    peak = 0.0
    for k in range(n):
        steps.sample(k / RATE, G + math.sin(2 * math.pi * frequency_hz * k / RATE))
        if k > n // 2:
            peak = max(peak, abs(steps.band_mps2))
    return peak


def test_the_step_band_keeps_its_documented_share_at_each_corner_and_most_of_a_gait_between():
    """One first-order stage from step_band_low_hz keeps 1/sqrt(2) of a sway at that frequency; the
    two smoothing stages to step_band_high_hz keep half of a jolt at that one; a 1 Hz gait keeps most."""
    drift = DriftConfig()
    assert band_gain(drift.step_band_low_hz) == pytest.approx(1 / math.sqrt(2), abs=0.03)
    assert band_gain(drift.step_band_high_hz) == pytest.approx(0.5, abs=0.03)
    assert band_gain(1.0) == pytest.approx(0.86, abs=0.03)


@pytest.mark.parametrize("hole_s", [1.0, 3.0])
def test_the_first_sample_after_a_hole_in_the_data_is_no_step_whatever_it_reads(hole_s):
    """Mid-stride (at the bottom of a step) the data stops, and comes back reading 1 m/s² under gravity:
    the filters start again on that sample, so it is no step; after a hole longer than step_level_tau_s
    the walker's own step size is forgotten too."""
    steps = tracker()
    walking = [(k / RATE, G + 2.0 * math.sin(2 * math.pi * k / RATE / 0.5)) for k in range(round(4.375 * RATE))]
    for t, v in walking:
        steps.sample(t, v)
    assert steps.level_mps2 > 0.5
    assert steps.sample(walking[-1][0] + hole_s, G - 1.0) is False
    assert steps.band_mps2 == 0.0
    assert (steps.level_mps2 == 0.0) is (hole_s > DriftConfig().step_level_tau_s)


def test_a_range_sensor_that_has_not_read_yet_is_no_drift_and_its_first_reading_counts():
    """Before the first reading there is no position to judge (the range sensor's own health check
    says it is missing); the first reading near the rear edge is judged at once."""
    drift = RangeDrift(rear_edge_m=1.5, min_rear_margin_m=0.5)
    problems: list[Problem] = []
    drift.check(1.0, problems)
    assert problems == []
    drift.update(1.0, 1.25)
    drift.check(1.0, problems)
    assert problems == [Problem("drift", "near_rear_edge", 1.0, {"rear_margin_m": 0.25, "min_rear_margin_m": 0.5})]


# -- the step and its re-arm, met exactly -------------------------------------------------------------------

def band_after(drift: DriftConfig, samples, from_s: float) -> list[tuple[float, float]]:
    """(t, band-passed value) from from_s on; the floor changes no filter, so any floor gives the same values."""
    steps = tracker(drift)
    out = []
    for t, v in samples:
        steps.sample(t, v)
        if t >= from_s:
            out.append((t, steps.band_mps2))
    return out


LOOSE = dataclasses.replace(DriftConfig(), step_level_ratio=0.1)  # the floor alone sets the threshold


def test_a_rise_that_peaks_exactly_at_the_floor_is_no_step_and_one_a_hair_over_it_is():
    samples = double_rise(0.3)
    peak_s, peak = max(band_after(LOOSE, samples, 4.0)[:round(0.5 * RATE)], key=lambda tz: tz[1])
    for floor, is_step in [(peak, False), (math.nextafter(peak, 0.0), True)]:
        steps = tracker(dataclasses.replace(LOOSE, step_floor_mps2=floor))
        found = [t for t, v in samples if steps.sample(t, v)]
        assert (peak_s in found) is is_step


def test_a_valley_exactly_at_half_the_threshold_rearms_and_one_a_hair_over_it_does_not():
    """Between the two lobes of double_rise the band-passed value falls to its lowest at the valley:
    a floor of exactly twice that value puts the valley exactly at half the threshold."""
    samples = double_rise(0.3)
    band = band_after(LOOSE, samples, 4.0)
    first_s = max(band[:round(0.5 * RATE)], key=lambda tz: tz[1])[0]
    second_s = max((tz for tz in band if tz[0] > 4.45), key=lambda tz: tz[1])[0]
    valley = min(z for t, z in band if first_s < t < second_s)
    assert valley > 0.0
    for floor, steps_after in [(2 * valley, 2), (math.nextafter(2 * valley, 0.0), 1)]:
        steps = tracker(dataclasses.replace(LOOSE, step_floor_mps2=floor))
        found = [t for t, v in samples if steps.sample(t, v)]
        assert len([t for t in found if t >= 4.0]) == steps_after, floor


def test_a_step_under_way_at_the_first_sample_is_counted():
    """The monitor starts while the walker is at the top of a step (already walking, 0.5 s steps):
    the slow mean starts at gravity, so that step counts, not only the next one half a second on."""
    walking = [(k / RATE, G + 2.0 * math.sin(2 * math.pi * (k / RATE / 0.5 + 0.25))) for k in range(round(2 * RATE))]
    steps = tracker()
    found = [t for t, v in walking if steps.sample(t, v)]
    assert found[0] < 0.1 and len(found) == 5  # one per half second from the first
