"""Each IMU health check on each of the six channels, and on both sides of its limits.

A check that skips one axis passes every test that breaks all axes at once, so
here one axis at a time is broken (or kept alive) while the others are not.
"""

import math

import pytest

from drivers.interfaces import READ_FAILED
from monitor.config.schema import Config
from monitor.safety.health import CHANNELS, ChannelLiveness, FailedReadRate, GravityBand
from tests.support import Driver, G, armed, standing, with_settings

RATE = 256.0
LIVELY = (0.11, -0.23, G, 0.013, -0.027, 0.031)  # a reading with six different values


def ticking(d: Driver, samples, until_s: float) -> set[str]:
    """Feed samples and tick every 1/64 s from 1 s until until_s; every check that fired."""
    d.imu(samples)
    seen: set[str] = set()
    k = 65
    while k / 64 <= until_s:
        seen |= {p.detail for p in d.tick(k / 64).problems}
        k += 1
    return seen


def wiggle(k: int, channel: int) -> float:
    """A small change on one channel every sample, as a live sensor's noise."""
    return LIVELY[channel] + 1e-3 * (k % 2)


# -- the gyro that reads exactly zero --------------------------------------------------------------------

@pytest.mark.parametrize("live_axis", [3, 4, 5])
def test_a_gyro_with_one_live_axis_is_measuring(live_axis):
    d = armed()
    samples = []
    for k in range(1, 257):
        values = [wiggle(k, c) for c in range(6)]
        for axis in (3, 4, 5):
            if axis != live_axis:
                values[axis] = 0.0
        samples.append((1.0 + k / RATE, *values))
    assert "imu_gyro_zero" not in ticking(d, samples, 2.0)


@pytest.mark.parametrize("zero_s,is_fault", [(0.5 - 1 / RATE, False), (0.5, True)])
def test_a_gyro_reading_exactly_zero_on_all_three_axes_is_a_fault_after_gyro_zero_s(zero_s, is_fault):
    d = armed()
    n = round(zero_s * RATE) + 1
    samples = [(1.0 + k / RATE, wiggle(k, 0), wiggle(k, 1), wiggle(k, 2), 0.0, 0.0, 0.0) for k in range(1, n + 1)]
    assert samples[-1][0] - samples[0][0] == zero_s
    assert ("imu_gyro_zero" in ticking(d, samples, samples[-1][0] + 1 / 64)) is is_fault


def test_a_gyro_back_from_zero_starts_its_count_again():
    live = ChannelLiveness(stuck_s=3.0, gyro_zero_s=0.5)
    for k in range(100):
        zero = k != 64  # one live sample in the middle
        gyro = (0.0, 0.0, 0.0) if zero else (0.0, 0.0, 0.01)
        problem = live.add(k / 128, (wiggle(k, 0), wiggle(k, 1), wiggle(k, 2), *gyro))
        assert problem is None, k


# -- one channel stuck while the others move ------------------------------------------------------------

@pytest.mark.parametrize("channel", range(6))
@pytest.mark.parametrize("stuck_s,is_fault", [(3.0 - 1 / 64, False), (3.0, True)])
def test_each_channel_stuck_while_the_others_move_is_a_fault_after_channel_stuck_s(channel, stuck_s, is_fault):
    live = ChannelLiveness(stuck_s=3.0, gyro_zero_s=0.5)
    last = None
    for k in range(round(stuck_s * 64) + 1):
        values = [wiggle(k, c) for c in range(6)]
        values[channel] = LIVELY[channel]
        last = live.add(k / 64, tuple(values))
        if k * 64 < round(stuck_s * 64) * 64:
            assert last is None
    if is_fault:
        assert last is not None and last.detail == "imu_channel_stuck"
        assert last.values == {CHANNELS[channel]: LIVELY[channel], "unchanged_s": 3.0}
    else:
        assert last is None


@pytest.mark.parametrize("channel", range(6))
def test_each_channel_moving_alone_is_alive_and_not_frozen(channel):
    d = armed()
    samples = []
    for k in range(1, 257):
        values = list(LIVELY)
        values[channel] = wiggle(k, channel)
        samples.append((1.0 + k / RATE, *values))
    fired = ticking(d, samples, 2.0)
    assert "imu_frozen" not in fired and "imu_stale" not in fired


def test_all_six_unchanged_is_frozen_not_stuck():
    live = ChannelLiveness(stuck_s=0.5, gyro_zero_s=0.5)
    assert all(live.add(k / 64, LIVELY) is None for k in range(200))


# -- out of range and not a number, each channel -------------------------------------------------------

@pytest.mark.parametrize("channel", range(6))
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_each_channel_out_of_range_on_each_side(channel, sign):
    limit = 157.0 if channel < 3 else 35.0
    for value, is_fault in [(sign * limit, False), (sign * math.nextafter(limit, math.inf), True)]:
        d = armed()
        values = list(LIVELY)
        values[channel] = value
        assert ("imu_out_of_range" in ticking(d, [(1.0 + 1 / RATE, *values)], 1.0 + 1 / 64)) is is_fault


@pytest.mark.parametrize("channel", range(6))
def test_each_channel_not_a_number_is_a_failed_read(channel):
    d = armed()
    bad = []
    for k in range(1, 4):
        values = list(LIVELY)
        values[channel] = math.nan
        bad.append((1.0 + k / RATE, *values))
    fired = ticking(d, bad, 1.0 + 1 / 64)
    assert "imu_read_failed" in fired and "imu_out_of_range" not in fired


# -- stale at the default timeout ------------------------------------------------------------------------

@pytest.mark.parametrize("age_s,is_stale", [(0.05 - 1e-6, False), (0.05 + 1e-6, True)])
def test_imu_stale_at_the_default_timeout(age_s, is_stale):
    d = armed()
    last_s = 1.0 - 1 / RATE
    assert ("imu_stale" in d.details(last_s + age_s)) is is_stale


def test_no_data_at_all_is_a_fault_from_the_first_tick():
    d = Driver(start_s=5.0)
    assert d.details(5.0) == ["imu_no_data"]


# -- gravity: the window, its band, its holes --------------------------------------------------------------

def gravity_band() -> GravityBand:
    imu = Config().imu
    return GravityBand(window_s=imu.gravity_window_s, low_mps2=imu.gravity_min_mps2, high_mps2=imu.gravity_max_mps2,
                       hole_s=imu.timeout_s)


@pytest.mark.parametrize("magnitude,is_fault", [(4.9 - 1e-6, True), (4.9 + 1e-6, False), (29.4 - 1e-6, False),
                                                (29.4 + 1e-6, True)])
def test_gravity_band_at_the_default_limits(magnitude, is_fault):
    band = gravity_band()
    found = [band.add(k / 64, 0.0, 0.0, magnitude) for k in range(65)]
    assert found[:64] == [None] * 64  # the window closes at 1 s, not before
    assert (found[64] is not None) is is_fault


def test_gravity_is_the_mean_magnitude_of_all_three_axes():
    for axis in range(3):
        band = gravity_band()
        vector = [0.0, 0.0, 0.0]
        vector[axis] = -G
        assert all(band.add(k / 64, *vector) is None for k in range(65)), axis


def test_a_hole_in_the_data_restarts_the_gravity_window():
    band = gravity_band()
    assert all(band.add(k / 64, 0.0, 0.0, 1.0) is None for k in range(40))
    # 0.0625 s of silence (more than the 0.05 s timeout): the window starts again
    assert all(band.add(44 / 64 + k / 64, 0.0, 0.0, 1.0) is None for k in range(64))
    assert band.add(108 / 64, 0.0, 0.0, 1.0) is not None


def test_a_gap_within_the_timeout_keeps_the_gravity_window():
    band = gravity_band()
    assert all(band.add(k / 64, 0.0, 0.0, 1.0) is None for k in range(40))
    assert all(band.add(42 / 64 + k / 64, 0.0, 0.0, 1.0) is None for k in range(22))  # 3/64 s of silence
    assert band.add(64 / 64, 0.0, 0.0, 1.0) is not None


def test_each_gravity_window_is_judged_on_its_own():
    band = gravity_band()
    results = [band.add(k / 64, 0.0, 0.0, 1.0 if k < 65 else G) for k in range(140)]
    assert results[64] is not None and results[64].values["mean_accel_mps2"] == 1.0
    assert all(r is None for r in results[65:])


# -- failed reads over a window ----------------------------------------------------------------------------

@pytest.mark.parametrize("count,is_fault", [(10, False), (11, True)])
def test_failed_reads_in_a_window_at_the_default_count(count, is_fault):
    rate = FailedReadRate(window_s=1.0, max_in_window=10)
    found = [rate.add(k / 16) for k in range(count)]
    assert (found[-1] is not None) is is_fault
    assert found[:10] == [None] * min(10, count)


def test_the_failed_read_window_starts_again_after_window_s():
    rate = FailedReadRate(window_s=1.0, max_in_window=10)
    assert all(rate.add(k / 16) is None for k in range(10))
    assert rate.add(1.0) is None  # exactly a second after the first: a new window, counted from 1
    assert all(rate.add(1.0 + k / 16) is None for k in range(1, 10))
    problem = rate.add(1.0 + 10 / 16)
    assert problem is not None and problem.values == {"failed_reads": 11.0, "within_s": 0.625}


def test_failed_reads_every_other_sample_trip_the_core():
    d = armed()
    good = standing(1.0, 2.0, RATE, seed=4)
    from drivers.interfaces import HealthEvent
    events = [HealthEvent(1.0 + k / 32 + 1 / 512, READ_FAILED) for k in range(11)]
    d.core.ingest_imu(good[:100], events)
    assert "imu_reads_failing" in d.details(1.375)
    d2 = armed()
    d2.core.ingest_imu(good[:100], events[:10])
    assert "imu_reads_failing" not in d2.details(1.375)


def test_stale_and_frozen_limits_come_from_the_settings():
    d = armed(with_settings(imu={"timeout_s": 0.25, "frozen_s": 1.0}))
    assert "imu_stale" not in d.details(1.0 + 0.125)


@pytest.mark.parametrize("failed,is_fault", [(2, False), (3, True)])
def test_failed_reads_before_the_first_sample_count_from_zero(failed, is_fault):
    d = Driver()
    for k in range(failed):
        d.core.imu_read_failed(0.001 * (k + 1))
    assert ("imu_read_failed" in d.details(0.015625)) is is_fault


def test_a_gap_of_exactly_the_timeout_keeps_the_gravity_window():
    band = gravity_band()
    assert band.add(0.0, 0.0, 0.0, 1.0) is None
    assert band.add(0.05, 0.0, 0.0, 1.0) is None  # exactly timeout_s later: not a hole
    assert all(band.add(0.05 + k / 64, 0.0, 0.0, 1.0) is None for k in range(1, 61))
    assert band.add(1.0, 0.0, 0.0, 1.0) is not None  # the window that began at 0.0 closes at 1.0


# -- what an out-of-range or unreadable sample leaves behind ------------------------------------------------

@pytest.mark.parametrize("channel", range(6))
def test_out_of_range_on_each_channel_records_the_largest_acceleration_and_rate_of_all_three_axes(channel):
    """The figures `trips show` prints are the largest of all three axes, whichever one broke its limit."""
    d = armed()
    values = [0.5, -1.5, 2.5, 0.25, -0.75, 1.25]  # the largest of each kind on its last axis
    values[channel] = 160.0 if channel < 3 else -36.0
    accel = max(abs(v) for v in values[:3])
    gyro = max(abs(v) for v in values[3:])
    d.imu([(1.0 + 1 / RATE, *values)])
    found = [p for p in d.tick(1.0 + 1 / 64).problems if p.detail == "imu_out_of_range"]
    assert [p.values for p in found] == [{"max_abs_accel_mps2": accel, "max_abs_gyro_radps": gyro}]


@pytest.mark.parametrize("channel", range(6))
def test_a_sample_with_a_value_that_is_not_a_number_is_not_kept_to_explain_a_trip(channel):
    """A failed read is counted as one and left out of the seconds kept around a trip (and out of
    every detector): only samples the core could use are shown as what the walker did."""
    d = armed()
    values = list(LIVELY)
    values[channel] = math.nan
    d.imu([(1.0 + 1 / RATE, *LIVELY), (1.0 + 2 / RATE, *values), (1.0 + 3 / RATE, *LIVELY)])
    d.tick(1.0 + 1 / 64)
    kept = [s for s in d.core.history if s[0] > 1.0]
    assert [s[0] for s in kept] == [1.0 + 1 / RATE, 1.0 + 3 / RATE]
    assert all(math.isfinite(v) for s in d.core.history for v in s)


@pytest.mark.parametrize("step_s,is_fault", [(0.0, True), (1 / RATE, False)])
def test_a_sample_at_the_time_of_the_last_good_one_is_a_fault_and_is_not_kept(step_s, is_fault):
    d = armed()
    d.imu([(1.0 + 1 / RATE, *LIVELY), (1.0 + 1 / RATE + step_s, *[v + 1e-3 for v in LIVELY])])
    assert ("imu_time_not_increasing" in d.details(1.0 + 1 / 64)) is is_fault
    kept = [s[0] for s in d.core.history if s[0] > 1.0]
    assert kept == ([1.0 + 1 / RATE] if is_fault else [1.0 + 1 / RATE, 1.0 + 2 / RATE])
