"""Every value a trip records is the value a person reads in `treadguard trips show`.

Each check's problem is asserted whole: its reason, its check, its time, the values
that caused it and the limits they broke. Times are exact in binary floating point,
so the figures are exact too.
"""

import math

import pytest

from drivers.interfaces import READ_FAILED, HealthEvent
from monitor.config.schema import Config
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Problem, Trip
from tests.support import Driver, G, armed, standing, with_settings

RATE = 256.0


def only_problem(verdict) -> Problem:
    """The one problem of the tick, besides the loop being late (these tests tick when they need to)."""
    problems = [p for p in verdict.problems if p.detail != "loop_late"]
    assert len(problems) == 1, verdict.problems
    return problems[0]


def no_problem(verdict) -> bool:
    return [p for p in verdict.problems if p.detail != "loop_late"] == []


def test_a_trip_records_its_tick_and_every_problem_of_it_and_keeps_them():
    d = armed()
    d.core.imu_read_failed(1.001)
    d.core.imu_read_failed(1.002)
    d.core.imu_read_failed(1.003)
    d.core.relay_feedback_failed(1.004)
    verdict = d.tick(1.015625)
    assert verdict.is_new_trip and verdict.state is LatchState.TRIPPED and not verdict.is_relay_energized
    assert verdict.trip == Trip(1.015625, verdict.problems)
    assert [(p.detail, p.t_s) for p in verdict.problems] == [("imu_read_failed", 1.003), ("relay_feedback", 1.004)]
    assert verdict.trip.reason == "sensor_fault" and verdict.trip.detail == "imu_read_failed"
    d.imu(standing(1.02, 2.0, RATE, seed=4))
    later = d.tick(1.03125)
    assert not later.is_new_trip and later.trip is verdict.trip and later.problems == ()


def test_a_refused_reset_explains_itself_anew_and_a_granted_one_clears_the_trip():
    d = armed()
    d.core.relay_feedback_failed(1.001)
    first = d.tick(1.015625).trip
    d.core.request_reset()
    d.core.loop_fault(1.02, "clock_jumped", {"jump_s": -2.5}, {"max_jump_s": 0.5})
    refused = d.tick(1.03125)
    assert refused.state is LatchState.TRIPPED and not refused.is_new_trip
    assert refused.trip == Trip(1.03125, (Problem("sensor_fault", "clock_jumped", 1.02, {"jump_s": -2.5},
                                                  {"max_jump_s": 0.5}),))
    assert refused.trip is not first
    d.imu(standing(1.0, 2.0, RATE, seed=6))
    granted = d.arm(1.046875)
    assert granted.trip is None and granted.problems == ()


def test_a_loop_fault_without_limits_records_none():
    d = armed()
    d.core.loop_fault(1.001, "loop_stalled", {"overdue_s": 0.25})
    assert only_problem(d.tick(1.015625)) == Problem("sensor_fault", "loop_stalled", 1.001, {"overdue_s": 0.25}, {})


def test_relay_feedback_records_when_it_was_seen():
    d = armed()
    d.core.relay_feedback_failed(1.0078125)
    assert only_problem(d.tick(1.015625)) == Problem("sensor_fault", "relay_feedback", 1.0078125, {}, {})


def test_loop_late_records_the_tick_interval_and_the_limit():
    d = armed(with_settings(loop={"late_s": 0.125}))
    d.imu(standing(1.0, 2.0, RATE, seed=3))
    assert d.tick(1.25).problems == (Problem("sensor_fault", "loop_late", 1.25, {"tick_interval_s": 0.25},
                                             {"late_s": 0.125}),)


def belt_driver(config=Config(), walking="forward") -> Driver:
    d = Driver(with_settings(config, drift={"enabled": False}), has_belt=True, walking=walking)
    d.imu(standing(0.0, 5.0, RATE))
    d.core.ingest_belt(0.0, 1.0)
    d.arm(0.0)
    return d


@pytest.mark.parametrize("walking,limit", [("forward", 4.5), ("backward", 1.8)])
def test_overspeed_records_the_latest_speed_the_limit_and_how_long_it_was_over(walking, limit):
    d = belt_driver(with_settings(belt={"overspeed_confirm_s": 0.25}), walking=walking)
    d.core.ingest_belt(1.0, limit + 0.5)
    assert no_problem(d.tick(1.0))
    d.core.ingest_belt(1.125, limit + 1.0)
    assert no_problem(d.tick(1.125))
    d.core.ingest_belt(1.3125, limit + 0.25)
    assert only_problem(d.tick(1.3125)) == Problem("overspeed", "belt_overspeed", 1.3125, {
        "belt_mps": limit + 0.25, "max_speed_mps": limit, "over_for_s": 0.3125})


def test_a_reading_back_under_the_limit_restarts_the_overspeed_count():
    d = belt_driver(with_settings(belt={"overspeed_confirm_s": 0.25}))
    d.core.ingest_belt(1.0, 5.0)
    d.core.ingest_belt(1.0625, 4.0)
    d.core.ingest_belt(1.125, 5.0)
    assert no_problem(d.tick(1.3125))
    assert only_problem(d.tick(1.375)).values["over_for_s"] == 0.25


def test_belt_readings_out_of_range_and_stale_record_what_was_seen():
    d = belt_driver()
    d.core.ingest_belt(0.0625, -0.5)
    assert only_problem(d.tick(0.0625)) == Problem("sensor_fault", "belt_out_of_range", 0.0625, {"belt_mps": -0.5},
                                                   {"min_mps": 0.0, "max_mps": 15.0})
    assert only_problem(d.tick(0.75)) == Problem("sensor_fault", "belt_stale", 0.75, {"age_s": 0.75},
                                                 {"timeout_s": 0.5})


def test_an_old_belt_reading_never_makes_the_belt_look_fresher():
    d = belt_driver()
    d.core.ingest_belt(0.25, 1.0)
    d.core.ingest_belt(0.125, 1.0)  # arrives late, from before the last one
    assert no_problem(d.tick(0.75))
    assert only_problem(d.tick(0.8125)).values == {"age_s": 0.5625}


def range_driver() -> Driver:
    config = with_settings(range={"enabled": True, "rear_edge_m": 1.5, "min_rear_margin_m": 0.5})
    d = Driver(config, has_range=True)
    d.imu(standing(0.0, 5.0, RATE))
    d.core.ingest_range(0.0, 0.5)
    d.arm(0.0)
    return d


def test_near_the_rear_edge_records_the_margin_left_and_the_least_allowed():
    d = range_driver()
    d.core.ingest_range(0.25, 1.25)
    assert only_problem(d.tick(0.25)) == Problem("drift", "near_rear_edge", 0.25, {
        "rear_margin_m": 0.25, "min_rear_margin_m": 0.5})


def test_range_readings_out_of_range_and_stale_record_what_was_seen():
    d = range_driver()
    d.core.ingest_range(0.0625, 12.0)
    assert only_problem(d.tick(0.0625)) == Problem("sensor_fault", "range_out_of_range", 0.0625, {"range_m": 12.0},
                                                   {"min_m": 0.0, "max_m": 10.0})
    assert only_problem(d.tick(0.375)) == Problem("sensor_fault", "range_stale", 0.375, {"age_s": 0.375},
                                                  {"timeout_s": 0.3})


# -- the IMU's health ---------------------------------------------------------------------------------

def test_no_imu_data_records_the_time_since_start():
    d = Driver(start_s=2.0)
    assert only_problem(d.tick(2.25)) == Problem("sensor_fault", "imu_no_data", 2.25, {"since_start_s": 0.25})


def test_stale_imu_records_its_age_and_the_timeout():
    d = armed()
    last_s = 1.0 - 1 / RATE
    assert only_problem(d.tick(1.0625)) == Problem("sensor_fault", "imu_stale", 1.0625, {"age_s": 1.0625 - last_s},
                                                   {"timeout_s": 0.05})


def test_frozen_imu_records_how_long_it_was_unchanged():
    d = armed()
    d.imu([(1.0 + k / RATE, 0.1, 0.2, G, 0.01, 0.02, 0.03) for k in range(193)])
    assert only_problem(d.tick(1.75)) == Problem("sensor_fault", "imu_frozen", 1.75, {"unchanged_s": 0.75},
                                                 {"frozen_s": 0.5})


def test_failed_reads_in_a_row_record_the_count_and_the_limit():
    d = armed()
    for k in range(4):
        d.core.imu_read_failed(1.0 + k / 1024)
    problems = d.tick(1.015625).problems
    assert problems[0] == Problem("sensor_fault", "imu_read_failed", 1.0 + 2 / 1024, {"failed_reads_in_a_row": 3.0},
                                  {"failed_reads_max": 2.0})


def test_failed_reads_spread_over_a_second_record_the_count_and_the_span():
    d = armed()
    good = standing(1.0, 2.0, RATE, seed=8)
    events = [HealthEvent(1.0 + k / 16 + 1 / 512, READ_FAILED) for k in range(11)]
    d.core.ingest_imu(good[:200], events)
    problem = only_problem(d.tick(1.75))
    assert problem == Problem("sensor_fault", "imu_reads_failing", 1.0 + 10 / 16 + 1 / 512,
                              {"failed_reads": 11.0, "within_s": 0.625},
                              {"failed_reads_in_window_max": 10.0, "failed_reads_window_s": 1.0})


def test_out_of_range_records_the_largest_acceleration_and_rate_and_the_limits():
    d = armed()
    d.imu([(1.0 + 1 / RATE, -3.0, 160.0, G, 0.5, -36.0, 2.0)])
    assert only_problem(d.tick(1.015625)) == Problem("sensor_fault", "imu_out_of_range", 1.0 + 1 / RATE, {
        "max_abs_accel_mps2": 160.0, "max_abs_gyro_radps": 36.0}, {"max_accel_mps2": 157.0, "max_gyro_radps": 35.0})


def test_time_going_back_records_the_previous_time():
    d = armed()
    d.imu([(0.5, 0.0, 0.1, G, 0.2, 0.3, 0.4)])
    assert only_problem(d.tick(1.0 + 1 / 64)) == Problem("sensor_fault", "imu_time_not_increasing", 0.5,
                                                          {"previous_t_s": 1.0 - 1 / RATE})


def test_implausible_gravity_records_the_mean_and_the_window():
    d = Driver()
    d.imu([(k / RATE, 0.0, 0.0, 2.0, 0.01 * (k % 3), 0.02, 0.03 * (k % 2)) for k in range(300)])
    verdict = d.tick(300 / RATE)
    gravity = [p for p in verdict.problems if p.detail == "imu_gravity_implausible"]
    assert gravity == [Problem("sensor_fault", "imu_gravity_implausible", 1.0, {"mean_accel_mps2": 2.0, "window_s": 1.0},
                               {"gravity_min_mps2": 4.9, "gravity_max_mps2": 29.4})]


def test_a_stuck_channel_records_its_value_and_how_long_it_was_stuck():
    d = Driver()
    samples = [(k / 64, 0.1 * (k % 2), 0.25, G + 0.01 * (k % 3), 0.01 * (k % 2), 0.02, 0.03) for k in range(200)]
    d.imu(samples)
    verdict = d.tick(199 / 64)
    stuck = [p for p in verdict.problems if p.detail == "imu_channel_stuck"]
    assert stuck[0] == Problem("sensor_fault", "imu_channel_stuck", 3.0, {"ay_mps2": 0.25, "unchanged_s": 3.0},
                               {"channel_stuck_s": 3.0})


def test_an_all_zero_gyro_records_how_long_it_read_zero():
    d = armed()
    d.imu([(1.0 + k / RATE, 0.01 * (k % 3), 0.02 * (k % 2), G, 0.0, 0.0, 0.0) for k in range(1, 200)])
    problem = [p for p in d.tick(1.75).problems if p.detail == "imu_gyro_zero"][0]
    assert problem == Problem("sensor_fault", "imu_gyro_zero", 1.5 + 1 / RATE, {"zero_s": 0.5},
                              {"gyro_zero_s": 0.5})


# -- motion ---------------------------------------------------------------------------------------------

def test_a_motion_trip_records_its_sample_time_and_only_the_first_finding_of_a_tick():
    d = armed()
    fall = [(1.0 + k / RATE, 0.0, 0.0, 0.0, 3.0 * (1 + k % 2), 0.0, 0.0) for k in range(1, 60)]
    d.imu(fall)
    verdict = next(v for v in (d.tick(1.0 + k / 64) for k in range(1, 16)) if v.problems)
    falls = [p for p in verdict.problems if p.reason in ("fall", "stumble")]
    assert len(falls) == 1
    found = falls[0]
    assert found.detail == f"{found.reason}_detected" and found.limits == {}
    assert 1.0 < found.t_s <= verdict.t_s and found.t_s * RATE == pytest.approx(round(found.t_s * RATE))
    assert {"tilt_rad", "vertical_velocity_mps", "tilt_rate_radps", "jolt_score_ratio"} <= set(found.values)
    assert [p.t_s for p in verdict.problems] == sorted(p.t_s for p in verdict.problems)


def test_the_seconds_kept_for_a_trip_start_exactly_before_s_back():
    d = Driver(with_settings(record={"before_s": 0.5}), has_belt=True, has_range=True)
    d.imu(standing(0.0, 2.0, RATE))
    for k in range(17):
        d.core.ingest_belt(k / 16, 1.0)
        d.core.ingest_range(k / 16, 0.5)
    d.tick(1.0)
    assert d.core.history[0][0] == 0.5 and d.core.history[-1][0] == 1.0
    assert d.core.belt_history[0] == (0.5, 1.0) and d.core.range_history[0] == (0.5, 0.5)
    assert len(d.core.belt_history) == 9 and len(d.core.range_history) == 9


def test_a_trip_is_described_in_words_with_three_figures():
    trip = Trip(2.0, (Problem("overspeed", "belt_overspeed", 2.0, {"belt_mps": 5.12345, "over_for_s": 0.3}),
                      Problem("sensor_fault", "imu_gravity_implausible", 2.0, {"mean_accel_mps2": 2.0},
                              {"gravity_min_mps2": 4.9, "gravity_max_mps2": 29.4})))
    assert trip.describe() == ("tripped at 2.000 s: overspeed (belt_overspeed: belt_mps=5.12, over_for_s=0.3); "
                               "sensor_fault (imu_gravity_implausible: mean_accel_mps2=2; "
                               "limit gravity_min_mps2=4.9, gravity_max_mps2=29.4)")
    assert math.isclose(trip.t_s, 2.0) and trip.reason == "overspeed" and trip.detail == "belt_overspeed"


@pytest.mark.parametrize("kind,detail", [("overflow", "imu_overflow"), ("device_reset", "imu_device_reset"),
                                         ("smoke", "imu_unknown_event")])
def test_a_driver_health_event_is_recorded_with_its_time(kind, detail):
    d = armed()
    d.core.ingest_imu([], [HealthEvent(1.0078125, kind)])
    assert only_problem(d.tick(1.015625)) == Problem("sensor_fault", detail, 1.0078125, {}, {})
