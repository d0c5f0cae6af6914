"""The safety core: every sensor-health, overspeed and drift threshold, just
inside and just outside, and the latch as the core drives it.

Times and limits are chosen to be exact in binary floating point, so "at the
limit" really is at the limit.
"""

import math

import pytest

from drivers.interfaces import DEVICE_RESET, OVERFLOW, READ_FAILED, HealthEvent
from monitor.config.schema import Config
from monitor.safety.core import MAX_PLAUSIBLE_BELT_MPS, MAX_PLAUSIBLE_RANGE_M, SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Problem
from tests.support import IDENTITY_MOUNT, Driver, G, armed, standing, with_settings

RATE = 256.0  # samples per second: 1/256 s is exact


# -- the latch, as the core drives it ----------------------------------------------------------

def test_the_core_starts_unarmed_with_the_relay_released():
    d = Driver()
    d.imu(standing(0.0, 1.0))
    verdict = d.tick(0.0)
    assert verdict.state is LatchState.UNARMED and not verdict.is_relay_energized


def test_it_arms_only_on_a_reset_while_every_check_passes():
    d = Driver()
    d.imu(standing(0.0, 2.0))
    assert not d.tick(0.5).is_relay_energized  # all clear, but nobody reset
    assert d.arm(0.5 + 1 / 64).state is LatchState.ARMED


def test_a_reset_refused_for_a_fault_is_explained():
    d = Driver()
    verdict = (d.core.request_reset(), d.tick(1.0))[1]  # no IMU data at all
    assert verdict.state is LatchState.TRIPPED and not verdict.is_relay_energized
    assert verdict.trip.reason == "sensor_fault" and verdict.trip.detail == "imu_no_data"


def test_a_trip_latches_after_the_fault_is_gone_until_a_reset():
    d = armed(imu_mount=IDENTITY_MOUNT)
    d.imu(standing(1.0, 1.2, RATE)).imu(standing(1.5, 3.0, RATE, seed=2))  # a 0.3 s hole
    verdicts = [d.tick(1.0 + k / 64) for k in range(1, 128)]
    first = next(v for v in verdicts if v.is_new_trip)
    assert first.trip.detail == "imu_stale"
    after = [v for v in verdicts if v.t_s > 1.6]
    assert after and all(v.state is LatchState.TRIPPED and v.problems == () for v in after)
    assert all(v.trip is first.trip for v in after)
    assert d.arm(3.0).state is LatchState.ARMED


def test_the_trip_keeps_the_reason_of_the_first_fault():
    d = armed()
    d.core.imu_read_failed(1.01)
    d.core.ingest_imu([], [HealthEvent(1.011, OVERFLOW)])
    verdict = d.tick(1.015625)
    assert verdict.trip.detail == "imu_overflow"
    d.core.ingest_imu([], [HealthEvent(1.02, DEVICE_RESET)])
    assert d.tick(1.03125).trip.detail == "imu_overflow"


# -- IMU health ------------------------------------------------------------------------------

@pytest.mark.parametrize("age_s,is_stale", [(0.0625, False), (0.0625 + 2**-20, True)])
def test_imu_stale_boundary(age_s, is_stale):
    d = armed(with_settings(imu={"timeout_s": 0.0625}))
    assert ("imu_stale" in d.details(1.0 - 1 / RATE + age_s)) is is_stale


@pytest.mark.parametrize("failed,is_fault", [(2, False), (3, True)])
def test_failed_reads_in_a_row_boundary(failed, is_fault):
    d = armed()
    for k in range(failed):
        d.core.imu_read_failed(1.0 + k / 1000)
    d.imu(standing(1.0 + 1 / RATE, 1.5, RATE, seed=5))
    assert ("imu_read_failed" in d.details(1.0 + 1 / 64)) is is_fault


def test_a_good_sample_ends_the_failed_read_streak():
    d = armed()
    events = [HealthEvent(1.001, READ_FAILED), HealthEvent(1.002, READ_FAILED),
              HealthEvent(1.004, READ_FAILED), HealthEvent(1.005, READ_FAILED)]
    d.core.ingest_imu([standing(1.003, 1.004, 1000.0)[0]], events)  # good sample between two pairs
    assert "imu_read_failed" not in d.details(1.0 + 1 / 64)


@pytest.mark.parametrize("unchanged_s,is_frozen", [(0.5 - 1 / RATE, False), (0.5, True)])
def test_frozen_boundary(unchanged_s, is_frozen):
    d = armed()
    n = int(unchanged_s * RATE) + 1
    frozen = [(1.0 + k / RATE, 0.1, 0.2, G, 0.01, 0.02, 0.03) for k in range(n)]
    d.imu(frozen)
    last_t = frozen[-1][0]
    assert last_t - 1.0 == unchanged_s
    assert ("imu_frozen" in d.details(last_t)) is is_frozen


def test_one_changing_channel_is_not_frozen():
    d = armed()
    d.imu([(1.0 + k / RATE, 0.1, 0.2, G, 0.01, 0.02, 0.03 + (k % 2) * 1e-3) for k in range(256)])
    assert "imu_frozen" not in d.details(2.0)


@pytest.mark.parametrize("channel,limit", [(1, 157.0), (3, 157.0), (4, 35.0), (6, 35.0)])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_out_of_range_boundary(channel, limit, sign):
    for value, is_fault in [(sign * limit, False), (sign * math.nextafter(limit, math.inf), True)]:
        d = armed()
        sample = [1.0 + 1 / RATE, 0.0, 0.0, G, 0.0, 0.0, 0.0]
        sample[channel] = value
        d.imu([tuple(sample)])
        assert ("imu_out_of_range" in d.details(1.0 + 1 / 64)) is is_fault


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_a_number_is_a_failed_read(bad):
    d = armed()
    d.imu([(1.0 + k / RATE, bad, 0.0, G, 0.0, 0.0, 0.0) for k in (1, 2)])
    assert d.details(1.0 + 1 / 64) == []  # two failed reads in a row are tolerated (failed_reads_max)
    d.imu([(1.0 + 5 / RATE, 0.0, 0.0, G, 0.0, bad, 0.0)])
    assert "imu_read_failed" in d.details(1.0 + 2 / 64)  # the third is a fault


def test_time_that_does_not_increase_is_a_fault():
    d = armed()
    d.imu([(0.5, 0.0, 0.0, G, 0.0, 0.0, 0.0)])
    assert "imu_time_not_increasing" in d.details(1.0 + 1 / 64)


def test_an_unknown_health_event_is_a_fault():
    d = armed()
    d.core.ingest_imu([], [HealthEvent(1.001, "smoke")])
    assert "imu_unknown_event" in d.details(1.0 + 1 / 64)


@pytest.mark.parametrize("interval_s,is_late", [(0.125, False), (0.125 + 2**-20, True)])
def test_loop_late_boundary(interval_s, is_late):
    d = armed(with_settings(loop={"late_s": 0.125}))
    d.imu(standing(1.0, 2.0, RATE, seed=3))
    assert ("loop_late" in d.details(1.0 + interval_s)) is is_late


# -- belt: health and overspeed ---------------------------------------------------------------------

def belt_driver(config=Config(), walking="forward") -> Driver:
    d = Driver(config, has_belt=True, walking=walking)
    d.imu(standing(0.0, 5.0, RATE))
    d.core.ingest_belt(0.0, 1.0)
    d.arm(0.0)
    return d


@pytest.mark.parametrize("age_s,is_stale", [(0.5, False), (0.5 + 2**-20, True)])
def test_belt_stale_boundary(age_s, is_stale):
    d = belt_driver()
    d.tick(0.25)
    assert ("belt_stale" in d.details(age_s)) is is_stale


@pytest.mark.parametrize("walking,limit", [("forward", 4.5), ("backward", 1.8)])
def test_overspeed_limit_boundary_in_each_direction(walking, limit):
    for speed, is_over in [(limit, False), (math.nextafter(limit, math.inf), True)]:
        d = belt_driver(walking=walking)
        for k in range(1, 64):
            d.core.ingest_belt(k / 64, speed)
            d.tick(k / 64)
        assert any(v.trip and v.trip.reason == "overspeed" for v in d.verdicts) is is_over


@pytest.mark.parametrize("held_s,is_trip", [(0.25 - 2**-20, False), (0.25, True)])
def test_overspeed_confirm_boundary(held_s, is_trip):
    d = belt_driver(with_settings(belt={"overspeed_confirm_s": 0.25}))
    d.core.ingest_belt(1.0, 5.0)
    d.tick(1.0)
    assert ("belt_overspeed" in d.details(1.0 + held_s)) is is_trip


def test_a_single_fast_reading_does_not_trip():
    d = belt_driver()
    d.core.ingest_belt(1.0, 6.0)
    d.tick(1.0)
    d.core.ingest_belt(1.1, 1.0)
    assert "belt_overspeed" not in d.details(1.5)


@pytest.mark.parametrize("speed,is_fault", [
    (0.0, False), (-2**-20, True), (MAX_PLAUSIBLE_BELT_MPS, False),
    (math.nextafter(MAX_PLAUSIBLE_BELT_MPS, math.inf), True), (math.nan, True)])
def test_belt_plausibility_boundary(speed, is_fault):
    d = belt_driver()
    d.core.ingest_belt(0.0625, speed)
    assert ("belt_out_of_range" in d.details(0.0625)) is is_fault


# -- drift from a range sensor ------------------------------------------------------------------------

def range_driver(config=Config()) -> Driver:
    config = with_settings(config, range={"enabled": True, "rear_edge_m": 1.5, "min_rear_margin_m": 0.5})
    d = Driver(config, has_range=True)
    d.imu(standing(0.0, 5.0, RATE))
    d.core.ingest_range(0.0, 0.6)
    d.arm(0.0)
    return d


@pytest.mark.parametrize("distance_m,is_drift", [(1.0, False), (math.nextafter(1.0, 2.0), True), (3.0, True)])
def test_rear_margin_boundary(distance_m, is_drift):
    d = range_driver()
    d.core.ingest_range(0.25, distance_m)
    assert ("near_rear_edge" in d.details(0.25)) is is_drift


def test_a_trace_rear_edge_overrides_the_config():
    core = SafetyCore(Config(), start_s=0.0, has_range=True, rear_edge_m=2.0)
    assert core.range_drift.rear_edge_m == 2.0


@pytest.mark.parametrize("age_s,is_stale", [(0.3125, False), (0.3125 + 2**-20, True)])
def test_range_stale_boundary(age_s, is_stale):
    d = range_driver(with_settings(range={"timeout_s": 0.3125}))
    d.tick(0.25)
    assert ("range_stale" in d.details(age_s)) is is_stale


@pytest.mark.parametrize("distance_m,is_fault", [
    (0.0, False), (-2**-20, True), (MAX_PLAUSIBLE_RANGE_M, False),
    (math.nextafter(MAX_PLAUSIBLE_RANGE_M, 99.0), True)])
def test_range_plausibility_boundary(distance_m, is_fault):
    d = range_driver()
    d.core.ingest_range(0.0625, distance_m)
    assert ("range_out_of_range" in d.details(0.0625)) is is_fault


# -- drift from IMU and belt speed: tests/test_drift.py


# -- the mount ----------------------------------------------------------------------------------------

def test_without_a_mount_the_vertical_is_found_from_gravity():
    d = Driver(imu_mount=None)
    tilted = [(s[0], s[3] * 0.6, 0.0, s[3] * 0.8, *s[4:]) for s in standing(0.0, 1.0, RATE)]
    d.imu(tilted)
    d.arm(0.0)
    assert not d.core.is_mount_known
    for k in range(1, 64):
        assert d.tick(k / 64).is_relay_energized


def test_a_trip_explains_itself_in_words():
    d = armed()
    d.core.imu_read_failed(1.01)
    d.core.imu_read_failed(1.011)
    d.core.imu_read_failed(1.012)
    trip = d.tick(1.015625).trip
    assert trip.describe() == "tripped at 1.016 s: sensor_fault (imu_read_failed: failed_reads_in_a_row=3; limit failed_reads_max=2)"
    assert Problem("sensor_fault", "imu_overflow", 1.0).describe() == "sensor_fault (imu_overflow)"
