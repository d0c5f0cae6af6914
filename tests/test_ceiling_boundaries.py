"""The backward ceiling at its edges: what each event and each trip records, what starts the steady count
again, and each limit on both sides, on a passed-in clock."""

from __future__ import annotations

import math

import pytest

from monitor.config.schema import Config
from monitor.safety.ceiling import BackwardCeiling, CeilingEvent, CeilingEventKind, CeilingParams
from monitor.safety.core import SafetyCore
from monitor.safety.verdict import BACKWARD_CEILING, Problem
from tests.support import IDENTITY_MOUNT, standing, with_settings

PARAMS = CeilingParams(min_mps=0.25, max_mps=1.0, step_mps=0.25, near_mps=0.125, rise_after_s=8.0,
                       confirm_s=2.0)
TICK = 1 / 64


def run(c: BackwardCeiling, t0_s: float, t1_s: float, *, belt_mps: float, applies: bool = True,
        is_backward: bool = True, is_steady: bool = True) -> list[Problem]:
    problems: list[Problem] = []
    for k in range(int(round((t1_s - t0_s) / TICK))):
        c.tick(t0_s + k * TICK, belt_mps=belt_mps, applies=applies, is_backward=is_backward,
               is_steady=is_steady, problems=problems)
    return problems


def test_a_stumble_and_a_break_record_when_the_belt_speed_and_the_new_ceiling():
    c = BackwardCeiling(PARAMS, start_mps=0.75)
    c.stumbled(3.0, 0.7)
    c.after_break(4.0, 0.6)
    assert c.take_events() == [CeilingEvent(3.0, CeilingEventKind.LOWERED, 0.5, 0.7),
                               CeilingEvent(4.0, CeilingEventKind.BREAK, 0.25, 0.6)]
    assert c.take_events() == []


def test_a_trip_records_when_and_the_belt_speed():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    c.tripped(7.5, 0.9)
    assert c.take_events() == [CeilingEvent(7.5, CeilingEventKind.TRIPPED, 0.5, 0.9)]


def test_a_warning_and_a_rise_record_when_the_belt_speed_and_the_ceiling():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 8.0 + 2 * TICK, belt_mps=0.5)
    assert c.take_events() == [CeilingEvent(8.0, CeilingEventKind.ROSE, 0.75, 0.5)]
    run(c, 10.0, 10.0 + TICK, belt_mps=0.9)
    assert c.take_events() == [CeilingEvent(10.0, CeilingEventKind.WARNED, 0.75, 0.9)]


@pytest.mark.parametrize("lower", ["stumbled", "after_break"])
def test_a_stumble_or_a_break_starts_the_steady_count_again_even_at_the_minimum(lower):
    c = BackwardCeiling(PARAMS, start_mps=0.25)
    run(c, 0.0, 5.0, belt_mps=0.25)
    assert c.rise_in_s == pytest.approx(3.0 + TICK)
    getattr(c, lower)(5.0, 0.25)
    assert c.rise_in_s == 8.0 and c.ceiling_mps == 0.25 and c.take_events() == []


def test_the_trip_says_the_belt_the_ceiling_how_long_over_and_the_steady_time_still_needed():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 3.0, belt_mps=0.5)  # 3 s of steady time near the ceiling
    problems = run(c, 3.0, 5.0 + TICK, belt_mps=0.625)
    assert len(problems) == 1
    (problem,) = problems
    assert problem.reason == BACKWARD_CEILING and problem.detail == "above_backward_ceiling"
    assert problem.t_s == 5.0
    assert problem.values == {"belt_mps": 0.625, "ceiling_mps": 0.5, "over_for_s": 2.0, "rise_in_s": 8.0}
    assert problem.limits == {"confirm_s": 2.0}


def test_every_tick_held_over_the_limit_says_so_again():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    problems = run(c, 0.0, 3.0, belt_mps=0.625)
    assert [p.values["over_for_s"] for p in problems] == [pytest.approx(2.0 + k * TICK) for k in range(64)]


@pytest.mark.parametrize("over_s, trips", [(2.0, True), (2.0 - TICK, False)])
def test_the_trip_comes_at_confirm_s_over_the_ceiling_and_not_a_tick_before(over_s, trips):
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    assert bool(run(c, 0.0, over_s + TICK, belt_mps=0.625)) == trips


def test_a_walker_turning_to_face_the_console_ends_the_warning_at_once():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 1.0, belt_mps=0.9)
    assert c.is_over
    assert not run(c, 1.0, 5.0, belt_mps=0.9, applies=False, is_backward=False)
    assert not c.is_over


def test_being_over_the_ceiling_while_unknown_warns_but_counts_no_steady_time():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 1.0, belt_mps=0.9, is_backward=False)
    assert c.is_over and [e.kind for e in c.take_events()] == [CeilingEventKind.WARNED]


def test_a_rise_needs_rise_after_s_of_steady_time_and_not_a_tick_less():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 8.0, belt_mps=0.5)  # 8 s less one tick counted (the first tick counts none)
    assert c.ceiling_mps == 0.5 and c.rise_in_s == pytest.approx(TICK)
    run(c, 8.0, 8.0 + TICK, belt_mps=0.5)
    assert c.ceiling_mps == 0.75 and c.rise_in_s == 8.0  # the count starts again after a rise


def test_each_rise_is_one_step_and_stops_at_the_maximum():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    belt = 0.5
    for k in range(4):
        run(c, k * 9.0, (k + 1) * 9.0, belt_mps=belt)
        belt = c.ceiling_mps
    assert c.ceiling_mps == 1.0
    assert [e.ceiling_mps for e in c.take_events()] == [0.75, 1.0]


def test_a_step_that_would_pass_the_maximum_stops_at_it():
    c = BackwardCeiling(CeilingParams(min_mps=0.25, max_mps=0.6, step_mps=0.25, near_mps=0.125,
                                      rise_after_s=8.0, confirm_s=2.0), start_mps=0.5)
    run(c, 0.0, 9.0, belt_mps=0.5)
    assert c.ceiling_mps == 0.6


def test_a_step_that_would_pass_the_minimum_stops_at_it():
    c = BackwardCeiling(CeilingParams(min_mps=0.4, max_mps=1.0, step_mps=0.25, near_mps=0.125,
                                      rise_after_s=8.0, confirm_s=2.0), start_mps=0.5)
    c.stumbled(1.0, 0.5)
    assert c.ceiling_mps == 0.4


def test_steady_time_is_the_clock_between_ticks_and_a_clock_going_back_counts_none():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    for t_s in (0.0, 1.0, 3.5):
        c.tick(t_s, belt_mps=0.5, applies=True, is_backward=True, is_steady=True, problems=[])
    assert c.rise_in_s == 4.5
    c.tick(2.0, belt_mps=0.5, applies=True, is_backward=True, is_steady=True, problems=[])
    assert c.rise_in_s == 4.5
    c.tick(4.0, belt_mps=0.5, applies=True, is_backward=True, is_steady=True, problems=[])
    assert c.rise_in_s == 2.5


def test_unsteady_or_slow_walking_while_not_known_backward_keeps_the_count():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 4.0, belt_mps=0.5)
    left = c.rise_in_s
    run(c, 4.0, 5.0, belt_mps=0.5, is_backward=False, is_steady=False)  # unknown: neither counts nor resets
    run(c, 5.0, 6.0, belt_mps=0.2, is_steady=False)  # far below the ceiling: not judged
    assert c.rise_in_s == left


def test_walking_steadily_below_near_counts_nothing_but_keeps_the_count():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 4.0, belt_mps=0.5)
    left = c.rise_in_s
    run(c, 4.0, 6.0, belt_mps=0.3)
    assert c.rise_in_s == left


# -- in the core: only a steady walker earns a rise ------------------------------------------------------

def test_a_backward_walker_who_is_not_stepping_steadily_never_earns_a_higher_ceiling():
    """Standing on a running belt near the ceiling for all of rise_after_s is not steady walking:
    the ceiling stays where it was (the walker has no steps to judge)."""
    config = with_settings(Config(), drift={"enabled": False}, ceiling={"rise_after_s": 30.0})
    core = SafetyCore(config, start_s=0.0, walking="backward", imu_mount=IDENTITY_MOUNT, has_belt=True,
                      has_range=False, ceiling_mps=0.5)
    rate_hz = 32.0
    samples = standing(0.0, 31.0, rate_hz, seed=6)
    core.request_reset()
    for sample in samples:
        t = sample[0]
        core.ingest_imu([sample])
        core.ingest_belt(t, 0.45)
        assert core.tick(t).is_relay_energized, t
    assert not core.steadiness.is_steady
    assert core.ceiling.ceiling_mps == 0.5 and list(core.ceiling_log) == []


def ceiling_after_steady_walking(range_m: float | None, *, has_range: bool) -> float:
    """The ceiling after rise_after_s (30 s) of steadiness near it, steady steps every half second and little sway,
    the range sensor (if any) reading range_m throughout; a reading given to a core without a range
    sensor as well, which must play no part."""
    config = with_settings(Config(), drift={"enabled": False}, ceiling={"rise_after_s": 30.0},
                           range={"enabled": has_range, "rear_edge_m": 2.0})
    core = SafetyCore(config, start_s=0.0, walking="backward", imu_mount=IDENTITY_MOUNT, has_belt=True,
                      has_range=has_range, ceiling_mps=0.5)
    core.request_reset()
    for k, sample in enumerate(standing(0.0, 38.5, 32.0, seed=7)):  # steady once the sway is known (~7 s)
        t = sample[0]
        core.ingest_imu([sample])
        core.ingest_belt(t, 0.45)
        if range_m is not None:
            core.ingest_range(t, range_m)
        core.steadiness.sample(t, 0.01, 0.01)
        if k % 16 == 0:
            core.steadiness.step(t, "backward")
        assert core.tick(t).is_relay_energized, t
    return core.ceiling.ceiling_mps


@pytest.mark.parametrize("range_m,ceiling_mps", [(1.25, 0.6), (math.nextafter(1.25, 2.0), 0.5)])
def test_a_steady_walker_exactly_at_the_drift_pre_warning_edge_earns_a_rise_and_a_hair_nearer_does_not(
        range_m, ceiling_mps):
    """The pre-warning zone starts min_rear_margin_m + warning_zone_m (0.75 m) from the rear edge (2 m):
    a waist exactly 1.25 m from the sensor is outside it."""
    assert ceiling_after_steady_walking(range_m, has_range=True) == pytest.approx(ceiling_mps)


def test_without_a_range_sensor_a_range_reading_plays_no_part_in_steadiness():
    assert ceiling_after_steady_walking(1.9, has_range=False) == pytest.approx(0.6)
    assert ceiling_after_steady_walking(None, has_range=False) == pytest.approx(0.6)


def core_on_a_belt(walking: str = "backward") -> SafetyCore:
    config = with_settings(Config(), drift={"enabled": False})
    return SafetyCore(config, start_s=0.0, walking=walking, imu_mount=IDENTITY_MOUNT, has_belt=True,
                      has_range=False, ceiling_mps=0.5)


def tick_standing(core: SafetyCore, t0_s: float, t1_s: float, belt_mps: float) -> list:
    verdicts = []
    for sample in standing(t0_s, t1_s, 32.0, seed=8):
        t = sample[0]
        core.ingest_imu([sample])
        core.ingest_belt(t, belt_mps)
        verdicts.append(core.tick(t))
    return verdicts


def test_the_ceiling_trip_is_logged_with_its_time_and_the_belt_speed():
    core = core_on_a_belt()
    core.request_reset()
    trip = next(v for v in tick_standing(core, 0.0, 8.0, 0.75) if v.is_new_trip)
    assert trip.trip.reason == BACKWARD_CEILING
    assert core.ceiling_log[-1] == CeilingEvent(trip.t_s, CeilingEventKind.TRIPPED, 0.5, 0.75)


def test_a_stumble_walking_backwards_is_logged_with_its_time_the_belt_speed_and_the_lower_ceiling():
    core = core_on_a_belt()
    core.request_reset()
    tick_standing(core, 0.0, 1.0, 0.5)
    core._events.append(Problem("stumble", "stumble_detected", 1.0, {}))  # as the motion detector reports one
    tick_standing(core, 1.0, 1.0 + 1 / 32, 0.5)
    assert core.ceiling_log[-1] == CeilingEvent(1.0, CeilingEventKind.LOWERED, pytest.approx(0.4), 0.5)


def test_the_ceiling_log_keeps_the_last_thousand_events_so_a_long_session_stays_flat_in_memory():
    """A belt crossing the ceiling back and forth warns each time it goes over: 1001 warnings."""
    core = core_on_a_belt()
    core.request_reset()
    samples = standing(0.0, 2002 / 32, 32.0, seed=9)
    for k, sample in enumerate(samples):
        core.ingest_imu([sample])
        core.ingest_belt(sample[0], 0.75 if k % 2 else 0.45)
        core.tick(sample[0])
    assert len(core.ceiling_log) == 1000
    assert [e.kind for e in core.ceiling_log] == [CeilingEventKind.WARNED] * 1000
    assert core.ceiling_log[0].t_s == samples[3][0]  # the first warning (at sample 1) dropped
