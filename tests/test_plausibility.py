"""Sensor plausibility: data no real IMU on a person produces is a sensor fault with its own
detail, judged on both sides of every threshold, and real recordings never trip it.

Times and limits are exact in binary floating point, so "at the limit" really is.
"""

import math

import pytest

from drivers.interfaces import READ_FAILED, HealthEvent
from monitor.safety.health import ChannelLiveness, FailedReadRate, GravityBand
from tests.support import Driver, G, armed, with_settings

RATE = 256.0
STEP = 1 / RATE


def moving(t0_s: float, t1_s: float, *, accel=None, gyro=None) -> list[tuple]:
    """Samples at RATE whose every channel changes each sample (so nothing is frozen or stuck),
    unless accel(k) or gyro(k) say otherwise."""
    out = []
    k = 0
    t_s = t0_s
    while t_s < t1_s - 1e-12:
        wobble = (k % 2) * 2 ** -8
        a = accel(k) if accel else (0.25 + wobble, -0.25 - wobble, G + wobble)
        g = gyro(k) if gyro else (0.01 + wobble, 0.02 - wobble, 0.03 + wobble)
        out.append((t_s, *a, *g))
        k += 1
        t_s = t0_s + k * STEP
    return out


def magnitude(m: float):
    """Acceleration of exactly magnitude m, pointing along z or y in turn (so it changes)."""
    return lambda k: (0.0, 0.0, m) if k % 2 else (0.0, m, 0.0)


# -- gravity: the mean magnitude over each window lies in a band ---------------------------------------

BAND = with_settings(imu={"gravity_min_mps2": 5.0, "gravity_max_mps2": 24.0})


@pytest.mark.parametrize("m,is_fault", [
    (5.0 - 2 ** -20, True), (5.0, False), (24.0, False), (24.0 + 2 ** -20, True)])
def test_gravity_band_boundary(m, is_fault):
    d = armed(BAND)
    # the window open since t = 0 closes at t = 1.0; the next one holds only magnitude m
    d.imu(moving(1.0, 1.0 + STEP, accel=lambda k: (0.0, 0.0, G)))
    d.imu(moving(1.0 + STEP, 2.0 + 2 * STEP, accel=magnitude(m)))
    details = [p.detail for k in range(1, 66) for p in d.tick(1.0 + k / 64).problems]
    assert ("imu_gravity_implausible" in details) is is_fault


def test_gravity_is_judged_only_once_a_window_is_full():
    band = GravityBand(window_s=1.0, low_mps2=5.0, high_mps2=24.0, hole_s=0.05)
    assert [band.add(k * STEP, 0.0, 0.0, 0.0) for k in range(256)] == [None] * 256  # 255/256 s: not yet
    problem = band.add(1.0, 0.0, 0.0, 0.0)
    assert problem.detail == "imu_gravity_implausible"
    assert problem.values == {"mean_accel_mps2": 0.0, "window_s": 1.0}
    assert problem.limits == {"gravity_min_mps2": 5.0, "gravity_max_mps2": 24.0}


def test_a_hole_in_the_data_starts_a_new_window():
    band = GravityBand(window_s=1.0, low_mps2=5.0, high_mps2=24.0, hole_s=0.05)
    for k in range(200):
        band.add(k * STEP, 0.0, 0.0, 0.0)  # bad data, but the window is cut by a hole ...
    # ... of 0.5 s; the new window is all good data
    assert all(band.add(1.5 + k * STEP, 0.0, 0.0, G) is None for k in range(300))


@pytest.mark.parametrize("name,accel", [
    ("accelerometer 0,0,0", lambda k: (0.0, 0.0, 0.0)),
    ("values in g, not m/s²", lambda k: (0.01 * (k % 3), -0.02, 1.0 + 0.01 * (k % 2))),
    ("no gravity: only the motion", lambda k: (0.5 * math.sin(k / 9), 0.3 * math.cos(k / 7), 0.8 * math.sin(k / 5))),
    ("a scale 8 times too large", lambda k: (0.4 * (k % 3), -0.3, 8 * G + 0.05 * (k % 2))),
])
def test_an_accelerometer_no_person_wears_is_a_sensor_fault(name, accel):
    d = Driver(imu_mount=None)  # the mount found from gravity: the core must not be fooled by it
    d.imu(moving(0.0, 3.0, accel=accel))
    d.core.request_reset()
    verdicts = [d.tick(k / 64) for k in range(1, 3 * 64)]
    faults = [p for v in verdicts for p in v.problems]
    assert faults and faults[0].reason == "sensor_fault"
    assert faults[0].detail == "imu_gravity_implausible", name
    assert faults[0].t_s <= 1.0 + 2 * STEP  # at the end of the first window


# -- every channel alive -------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", range(6))
@pytest.mark.parametrize("stuck_s,is_fault", [(3.0 - STEP, False), (3.0, True)])
def test_one_stuck_channel_while_the_others_move_boundary(channel, stuck_s, is_fault):
    d = armed()
    samples = moving(1.0, 1.0 + stuck_s + STEP / 2)
    stuck_value = 0.125 if channel < 3 else 0.0625
    samples = [s[:1 + channel] + (stuck_value + (G if channel == 2 else 0.0),) + s[2 + channel:] for s in samples]
    d.imu(samples)
    last_t = samples[-1][0]
    assert last_t - 1.0 == stuck_s
    problems = [p for k in range(1, int(stuck_s * 64) + 2) for p in d.tick(1.0 + k / 64).problems]
    stuck = [p for p in problems if p.detail == "imu_channel_stuck"]
    assert bool(stuck) is is_fault
    if is_fault:
        name = ("ax_mps2", "ay_mps2", "az_mps2", "gx_radps", "gy_radps", "gz_radps")[channel]
        assert stuck[0].values == {name: samples[0][1 + channel], "unchanged_s": 3.0}
        assert stuck[0].limits == {"channel_stuck_s": 3.0}
    assert "imu_frozen" not in [p.detail for p in problems]  # the others moved: this is not a frozen IMU


def test_all_channels_still_is_frozen_not_stuck():
    live = ChannelLiveness(stuck_s=3.0, gyro_zero_s=0.5)
    assert all(live.add(k * STEP, (0.1, 0.2, G, 0.01, 0.02, 0.03)) is None for k in range(4 * 256))


def test_a_quantised_sensor_at_rest_repeating_counts_is_not_stuck():
    """A real sensor at rest repeats a count on a channel for a while (here 0.5 s on each in turn)."""
    live = ChannelLiveness(stuck_s=3.0, gyro_zero_s=0.5)
    for k in range(10 * 256):
        hold = (k // 128) % 6  # the channel holding its count changes every 0.5 s
        values = tuple(0.0383 * ((k + i) % 3) + (G if i == 2 else 0.0) + 0.001 if i != hold else 0.5
                       for i in range(6))
        assert live.add(k * STEP, values) is None


@pytest.mark.parametrize("zero_s,is_fault", [(0.5 - STEP, False), (0.5, True)])
def test_a_gyro_exactly_zero_on_every_axis_boundary(zero_s, is_fault):
    d = armed()
    samples = moving(1.0, 1.0 + zero_s + STEP / 2, gyro=lambda k: (0.0, 0.0, 0.0))
    d.imu(samples)
    assert samples[-1][0] - 1.0 == zero_s
    problems = [p for k in range(1, 34) for p in d.tick(1.0 + k / 64).problems]
    zero = [p for p in problems if p.detail == "imu_gyro_zero"]
    assert bool(zero) is is_fault
    if is_fault:
        assert zero[0].values == {"zero_s": 0.5} and zero[0].limits == {"gyro_zero_s": 0.5}


def test_a_gyro_with_one_axis_at_zero_is_alive():
    live = ChannelLiveness(stuck_s=3.0, gyro_zero_s=0.5)
    assert all(live.add(k * STEP, (0.1 + k % 2 * 0.01, 0.2, G - k % 3 * 0.01, 0.0, 0.0, 0.001 * (k % 2)))
               is None for k in range(256))


# -- NaN and inf are failed reads; failed reads counted over a window ---------------------------------

@pytest.mark.parametrize("failures,is_fault", [(10, False), (11, True)])
def test_failed_reads_within_a_window_boundary(failures, is_fault):
    """Every other read failing never makes 3 in a row, but is counted over failed_reads_window_s."""
    d = armed()
    samples = moving(1.0, 2.0)
    for i in range(failures):
        k = 2 * i + 1
        samples[k] = (samples[k][0], math.nan) + samples[k][2:]
    d.imu(samples)
    details = [p.detail for k in range(1, 65) for p in d.tick(1.0 + k / 64).problems]
    assert "imu_read_failed" not in details
    assert ("imu_reads_failing" in details) is is_fault


@pytest.mark.parametrize("last_at_s,is_fault", [(1.0, False), (1.0 - STEP, True)])
def test_failed_reads_window_length_boundary(last_at_s, is_fault):
    rate = FailedReadRate(window_s=1.0, max_in_window=10)
    times = [k * 0.09 for k in range(10)] + [last_at_s]
    problems = [rate.add(t) for t in times]
    assert (problems[-1] is not None) is is_fault
    if is_fault:
        assert problems[-1].values == {"failed_reads": 11.0, "within_s": last_at_s}
        assert problems[-1].limits == {"failed_reads_in_window_max": 10.0, "failed_reads_window_s": 1.0}


def test_two_of_three_samples_nan_in_one_channel_trips():
    d = armed()
    samples = moving(1.0, 2.0)
    samples = [s if k % 3 == 0 else s[:4] + (math.inf,) + s[5:] for k, s in enumerate(samples)]
    d.imu(samples)
    details = [p.detail for k in range(1, 65) for p in d.tick(1.0 + k / 64).problems]
    assert details and details[0] == "imu_reads_failing"


def test_a_driver_reporting_failed_reads_counts_too():
    d = armed()
    d.imu(moving(1.0, 2.0))
    d.core.ingest_imu([], [HealthEvent(1.0 + k * 0.05, READ_FAILED) for k in range(11)])
    details = [p.detail for p in d.tick(1.0 + 1 / 64).problems]
    assert "imu_reads_failing" in details
