"""Steadiness at its edges: which steps count toward the step-time variability, how many make one,
how long sway takes to mean something, and each limit of "steady" on both sides."""

from __future__ import annotations

import math

import pytest

from monitor.safety.steadiness import Steadiness


def steadiness(max_step_cv: float = 0.06, max_sway_radps: float = 0.5) -> Steadiness:
    return Steadiness(max_step_cv=max_step_cv, max_sway_radps=max_sway_radps)


def walk(s: Steadiness, intervals: list[float], direction: str = "backward", t0_s: float = 0.0) -> float:
    t_s = t0_s
    s.step(t_s, direction)
    for interval_s in intervals:
        t_s += interval_s
        s.step(t_s, direction)
    return t_s


def sway(s: Steadiness, roll_radps: float, pitch_radps: float, t0_s: float, t1_s: float, hz: float = 100.0) -> None:
    for k in range(int(round((t1_s - t0_s) * hz)) + 1):
        s.sample(t0_s + k / hz, roll_radps, pitch_radps)


@pytest.mark.parametrize("interval_s, counts", [(0.25, True), (0.2499, False)])
def test_a_quarter_second_step_counts_and_a_shorter_one_is_a_step_seen_twice(interval_s, counts):
    s = steadiness()
    walk(s, [interval_s] * 8)
    assert (s.step_cv is not None) == counts


@pytest.mark.parametrize("interval_s, counts", [(1.5, True), (1.5001, False)])
def test_a_step_after_a_second_and_a_half_counts_and_a_longer_gap_is_a_pause(interval_s, counts):
    s = steadiness()
    t_s = walk(s, [0.6] * 8)
    assert s.step_cv == pytest.approx(0.0, abs=1e-12)
    s.step(t_s + interval_s, "backward")
    assert (s.step_cv is not None) == counts


def test_a_pause_forgets_the_steps_before_it():
    s = steadiness()
    t_s = walk(s, [0.5, 0.7] * 4)  # 8 uneven steps
    t_s = walk(s, [0.6] * 7, t0_s=t_s + 2.0)  # a pause, then 7 even ones: not enough alone
    assert s.step_cv is None
    walk(s, [0.6], t0_s=t_s)
    assert s.step_cv == pytest.approx(0.0, abs=1e-12)  # only the even steps since the pause


def test_eight_intervals_make_a_variability_and_seven_do_not():
    s = steadiness()
    t_s = walk(s, [0.6] * 7)
    assert s.step_cv is None
    walk(s, [0.6], t0_s=t_s)
    assert s.step_cv == pytest.approx(0.0, abs=1e-12)


def test_the_variability_is_of_the_last_sixteen_steps_only():
    s = steadiness()
    t_s = walk(s, [0.4, 0.8] * 8)  # very uneven
    assert s.step_cv > 0.3
    walk(s, [0.6] * 15, t0_s=t_s)
    assert s.step_cv > 0.01  # one uneven step still among the last sixteen
    walk(s, [0.6], t0_s=t_s + 15 * 0.6)
    assert s.step_cv == pytest.approx(0.0, abs=1e-9)


def test_the_variability_is_the_sample_standard_deviation_over_the_mean():
    s = steadiness()
    intervals = [0.5, 0.6, 0.7, 0.6, 0.5, 0.6, 0.7, 0.6]
    walk(s, intervals)
    mean = sum(intervals) / 8
    sd = math.sqrt(sum((x - mean) ** 2 for x in intervals) / 7)
    assert s.step_cv == pytest.approx(sd / mean, rel=1e-9)


def test_sway_is_the_rms_of_roll_and_pitch_rate_together():
    s = steadiness()
    sway(s, 0.3, 0.4, 0.0, 60.0)
    assert s.sway_radps == pytest.approx(0.5, rel=1e-6)
    sway(s, -0.3, -0.4, 60.01, 120.0)
    assert s.sway_radps == pytest.approx(0.5, rel=1e-6)  # a sign does not calm it


def test_sway_follows_the_last_ten_seconds_or_so():
    s = steadiness()
    sway(s, 0.4, 0.0, 0.0, 60.0)
    sway(s, 0.0, 0.0, 60.01, 70.0)  # calm for one time constant: about e^-1 of the square left
    assert s.sway_radps == pytest.approx(0.4 * math.exp(-0.5), rel=0.02)


def test_sway_means_nothing_until_about_seven_seconds_of_it():
    s = steadiness()
    sway(s, 0.2, 0.0, 0.0, 6.8)  # weight 1 - e^-0.68 = 0.49
    assert s.sway_radps is None
    sway(s, 0.2, 0.0, 6.81, 7.2)  # weight 1 - e^-0.72 = 0.51
    assert s.sway_radps == pytest.approx(0.2, rel=1e-6)


def test_a_sample_that_goes_back_in_time_is_ignored():
    s = steadiness()
    sway(s, 0.2, 0.0, 0.0, 20.0)
    s.sample(10.0, 5.0, 5.0)  # a clock stepped back: a wild sample that must change nothing
    assert s.sway_radps == pytest.approx(0.2, rel=1e-6)
    s.sample(20.01, 0.2, 0.0)
    assert s.sway_radps == pytest.approx(0.2, rel=1e-6)


def steady_walker(cv_spread_s: float, sway_radps: float, *, max_step_cv: float, max_sway_radps: float) -> Steadiness:
    s = steadiness(max_step_cv, max_sway_radps)
    sway(s, sway_radps, 0.0, 0.0, 30.0)
    walk(s, [0.6 - cv_spread_s, 0.6 + cv_spread_s] * 8, t0_s=30.0)
    return s


@pytest.mark.parametrize("limit_offset, steady", [(0.0, True), (-1e-9, False)])
def test_a_variability_at_its_limit_is_steady_and_just_over_it_is_not(limit_offset, steady):
    s = steady_walker(0.03, 0.1, max_step_cv=1.0, max_sway_radps=0.5)
    s.max_step_cv = s.step_cv + limit_offset
    assert s.is_steady == steady


@pytest.mark.parametrize("limit_offset, steady", [(0.0, True), (-1e-9, False)])
def test_a_sway_at_its_limit_is_steady_and_just_over_it_is_not(limit_offset, steady):
    s = steady_walker(0.0, 0.3, max_step_cv=0.06, max_sway_radps=1.0)
    s.max_sway_radps = s.sway_radps + limit_offset
    assert s.is_steady == steady


def test_no_sway_yet_is_not_steady():
    s = steadiness()
    walk(s, [0.6] * 16)
    assert s.step_cv == pytest.approx(0.0, abs=1e-12) and not s.is_steady


def test_the_session_means_count_every_step_with_a_variability_and_a_sway_in_its_direction():
    s = steadiness()
    t_s = walk(s, [0.6] * 10, "forward")  # no sway yet: not counted
    assert s.session["forward"].as_dict() == {"steps": 0, "step_cv": None, "sway_radps": None}
    sway(s, 0.0, 0.25, 10.0, 40.0)
    cvs = []
    for interval_s in [0.55, 0.65, 0.5, 0.7] * 2:  # walking on: each step counts
        t_s += interval_s
        s.step(t_s, "forward")
        cvs.append(s.step_cv)
    forward = s.session["forward"].as_dict()
    assert forward["steps"] == 8 and len(set(cvs)) == 8
    assert forward["step_cv"] == pytest.approx(sum(cvs) / 8, rel=1e-12)
    assert forward["sway_radps"] == pytest.approx(0.25, rel=1e-3)
    assert s.session["backward"].as_dict()["steps"] == 0


def test_a_sample_long_after_the_last_is_the_whole_sway():
    s = steadiness()
    sway(s, 0.4, 0.0, 0.0, 30.0)
    s.sample(30.0 + 25.0, 0.1, 0.0)  # more than the averaging time later: the old sway is gone
    assert s.sway_radps == pytest.approx(0.1, rel=1e-12)
