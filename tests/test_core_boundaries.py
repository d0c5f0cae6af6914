"""The safety core at its default thresholds, driven tick by tick, on both sides of each; and
what the core takes from the configuration when the caller does not say.

Each threshold is the documented default, written out: a default that moves fails here.
"""

from __future__ import annotations

import math

import pytest

from drivers.interfaces import DEVICE_RESET, OVERFLOW, READ_FAILED, HealthEvent
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from tests.support import IDENTITY_MOUNT, Driver, G, armed, standing, with_settings

RATE = 256.0
HAIR = 1e-6
X_TURN = [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]  # a quarter turn about x


@pytest.mark.parametrize("interval_s,is_late", [(0.1 - HAIR, False), (0.1 + HAIR, True)])
def test_the_loop_is_late_after_a_tenth_of_a_second(interval_s, is_late):
    d = armed()
    d.imu(standing(1.0, 2.0, RATE, seed=3))
    assert ("loop_late" in d.details(1.0 + interval_s)) is is_late


def belt_driver(config=Config(), walking="forward") -> Driver:
    d = Driver(with_settings(config, drift={"enabled": False}), has_belt=True, walking=walking)
    d.imu(standing(0.0, 5.0, RATE))
    d.core.ingest_belt(0.0, 1.0)
    d.arm(0.0)
    return d


@pytest.mark.parametrize("age_s,is_stale", [(0.5 - HAIR, False), (0.5 + HAIR, True)])
def test_the_belt_is_stale_after_half_a_second(age_s, is_stale):
    d = belt_driver()
    d.core.ingest_belt(1.0, 1.0)
    d.tick(1.0)
    for k in range(1, 32):
        d.tick(1.0 + k / 64)
    assert ("belt_stale" in d.details(1.0 + age_s)) is is_stale


@pytest.mark.parametrize("held_s,is_trip", [(0.3 - HAIR, False), (0.3 + HAIR, True)])
def test_overspeed_is_confirmed_after_three_tenths_of_a_second(held_s, is_trip):
    d = belt_driver()
    d.core.ingest_belt(1.0, 4.75)
    d.tick(1.0)
    d.core.ingest_belt(1.0 + held_s, 4.75)
    assert ("belt_overspeed" in d.details(1.0 + held_s)) is is_trip


@pytest.mark.parametrize("walking,limit", [("forward", 4.5), ("backward", 1.8)])
def test_the_walking_direction_comes_from_the_config_when_not_given(walking, limit):
    config = with_settings(Config(), session={"walking": walking})
    core = SafetyCore(config, start_s=0.0, has_belt=True)
    assert core.walking == walking and core.overspeed.max_speed_mps == limit
    assert SafetyCore(config, start_s=0.0, walking="forward").walking == "forward"


def range_driver() -> Driver:
    d = Driver(with_settings(Config(), range={"enabled": True}), has_range=True)
    d.imu(standing(0.0, 5.0, RATE))
    d.core.ingest_range(0.0, 0.5)
    d.arm(0.0)
    return d


@pytest.mark.parametrize("distance_m,is_drift", [(1.1 - HAIR, False), (1.1 + HAIR, True)])
def test_drift_within_half_a_metre_of_the_default_rear_edge(distance_m, is_drift):
    d = range_driver()  # the rear edge 1.6 m from the console, at least 0.5 m kept
    d.core.ingest_range(0.25, distance_m)
    assert ("near_rear_edge" in d.details(0.25)) is is_drift


@pytest.mark.parametrize("age_s,is_stale", [(0.3 - HAIR, False), (0.3 + HAIR, True)])
def test_the_range_sensor_is_stale_after_three_tenths_of_a_second(age_s, is_stale):
    d = range_driver()
    d.core.ingest_range(1.0, 0.5)
    for k in range(0, 19):
        d.tick(1.0 + k / 64)
    assert ("range_stale" in d.details(1.0 + age_s)) is is_stale


# -- what the core takes from the configuration ------------------------------------------------------

def test_the_sensors_and_the_mount_come_from_the_config_when_not_given():
    config = with_settings(Config(), belt={"enabled": False}, range={"enabled": True, "rear_edge_m": 2.0},
                           imu={"mount": X_TURN})
    core = SafetyCore(config, start_s=0.0)
    assert (core.has_belt, core.has_range, core.is_mount_known) == (False, True, True)
    assert core.range_drift.rear_edge_m == 2.0 and core.range_drift.min_rear_margin_m == 0.5
    assert not core.is_step_drift_on
    core.ingest_imu([(0.01, 1.0, 2.0, G, 0.0, 0.0, 0.0)])
    assert core.motion.jolt_mps2 == pytest.approx(math.hypot(1.0, G, 2.0 - G))  # turned by the config's mount
    unknown = SafetyCore(Config(), start_s=0.0)
    assert not unknown.is_mount_known and unknown.has_belt and not unknown.has_range


@pytest.mark.parametrize("drift_on,belt,rng,is_on", [
    (True, True, False, True), (False, True, False, False), (True, False, False, False), (True, True, True, False)])
def test_step_drift_runs_only_with_a_belt_sensor_and_no_range_sensor(drift_on, belt, rng, is_on):
    config = with_settings(Config(), drift={"enabled": drift_on})
    assert SafetyCore(config, start_s=0.0, has_belt=belt, has_range=rng).is_step_drift_on is is_on


def test_without_a_belt_sensor_no_belt_check_runs():
    d = armed(has_belt=False)
    d.imu(standing(1.0, 3.0, RATE, seed=2))
    for k in range(65, 190):
        assert d.tick(k / 64).is_relay_energized  # no belt reading ever: not stale, since none is fitted


def test_each_check_reports_only_its_first_problem_of_a_tick_in_time_order():
    d = armed()
    d.core.loop_fault(1.003, "clock_jumped", {"jump_s": 1.0})
    d.core.relay_feedback_failed(1.002)
    d.core.loop_fault(1.001, "clock_jumped", {"jump_s": 2.0})
    d.core.relay_feedback_failed(1.004)
    problems = d.tick(1.015625).problems
    assert [(p.detail, p.t_s) for p in problems] == [("clock_jumped", 1.001), ("relay_feedback", 1.002)]
    assert problems[0].values == {"jump_s": 2.0}


def test_a_reset_is_judged_once_at_the_next_tick():
    d = Driver()
    d.imu(standing(0.0, 3.0, RATE))
    d.core.request_reset()
    assert d.tick(0.5).state is LatchState.ARMED
    d.core.relay_feedback_failed(0.51)
    assert d.tick(0.515625).state is LatchState.TRIPPED
    assert d.tick(0.53125).state is LatchState.TRIPPED  # the earlier request does not carry over
    d.core.request_reset()
    assert d.tick(0.546875).state is LatchState.ARMED


def test_the_seconds_kept_for_a_trip_follow_the_config():
    d = Driver(with_settings(Config(), record={"before_s": 2.0}), has_belt=True)
    d.imu(standing(0.0, 5.0, RATE))
    for k in range(5 * 64):
        d.core.ingest_belt(k / 64, 1.0)
    d.tick(4.0)
    assert d.core.history[0][0] == 2.0 and d.core.belt_history[0][0] == 2.0
    assert math.isclose(d.core.history[-1][0], 4.0)


def test_a_mount_given_by_the_caller_wins_over_the_config():
    config = with_settings(Config(), imu={"mount": X_TURN})
    core = SafetyCore(config, start_s=0.0, imu_mount=IDENTITY_MOUNT)
    core.ingest_imu([(0.01, 1.0, 2.0, G, 0.0, 0.0, 0.0)])
    core2 = SafetyCore(config, start_s=0.0)
    core2.ingest_imu([(0.01, 1.0, 2.0, G, 0.0, 0.0, 0.0)])
    assert core.history[-1] == core2.history[-1]  # the raw sample is kept as it came
    assert core.motion.jolt_mps2 == pytest.approx(math.hypot(1.0, 2.0))
    assert core2.motion.jolt_mps2 == pytest.approx(math.hypot(1.0, G, 2.0 - G))


def test_a_failed_read_reported_at_the_time_of_a_sample_is_judged_before_that_sample():
    """Three failed reads in a row (the limit is two), the third stamped with the time of the next
    good sample: the read failed before that sample came, so it is the third in a row."""
    d = armed()
    good = standing(1.0, 1.1, RATE, seed=4)
    t1, t2, t3 = good[1][0], good[2][0], good[3][0]
    samples = [good[0], good[3]]  # the reads at t1 and t2 gave nothing
    d.core.ingest_imu(samples, [HealthEvent(t3, READ_FAILED), HealthEvent(t1, READ_FAILED),
                                HealthEvent(t2, READ_FAILED)])
    assert ("imu_read_failed", t3) in [(p.detail, p.t_s) for p in d.core.tick(1.015625).problems]


def test_driver_events_of_the_same_time_are_judged_in_the_order_the_driver_reported_them():
    for kinds in ([OVERFLOW, DEVICE_RESET], [DEVICE_RESET, OVERFLOW]):
        d = armed()
        d.core.ingest_imu(standing(1.0, 1.01, RATE, seed=5), [HealthEvent(1.005, kind) for kind in kinds])
        problems = d.tick(1.015625).problems
        assert [p.detail for p in problems if p.detail != "loop_late"] == [f"imu_{kind}" for kind in kinds]
