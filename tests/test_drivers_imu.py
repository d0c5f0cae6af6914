"""The real IMU drivers (MPU-6050 family, LSM6DS3/DSOX) on register-level fake buses."""

from __future__ import annotations

import math

import pytest

from drivers.interfaces import DEVICE_RESET, OVERFLOW, READ_FAILED
from drivers.lsm6ds3 import Lsm6ds3
from drivers.mpu6050 import ChipError, Mpu6050
from monitor.service.loop.clock import SimulatedClock
from tests.drivers_support import run_imu
from tests.fake_i2c import FakeLsm6ds, FakeMpu6050, G, standing_motion

CHIPS = [
    pytest.param(FakeMpu6050, 0x68, Mpu6050, "MPU-6050", id="mpu6050"),
    pytest.param(FakeMpu6050, 0x70, Mpu6050, "MPU-6500", id="mpu6500"),
    pytest.param(FakeMpu6050, 0x71, Mpu6050, "MPU-9250", id="mpu9250"),
    pytest.param(FakeMpu6050, 0x73, Mpu6050, "MPU-9255", id="mpu9255"),
    pytest.param(FakeMpu6050, 0x72, Mpu6050, "clone", id="clone-0x72"),
    pytest.param(FakeMpu6050, 0x98, Mpu6050, "0x98", id="clone-0x98"),
    pytest.param(FakeLsm6ds, 0x69, Lsm6ds3, "LSM6DS3", id="lsm6ds3"),
    pytest.param(FakeLsm6ds, 0x6C, Lsm6ds3, "LSM6DSOX", id="lsm6dsox"),
    pytest.param(FakeLsm6ds, 0x6A, Lsm6ds3, "LSM6DS3TR-C", id="lsm6ds3tr-c"),
]
LOOP_S = 0.01


def _open(fake_class, who, driver_class, *, start_s=0.0, **fake_args):
    clock = SimulatedClock(start_s)
    address = 0x68 if fake_class is FakeMpu6050 else 0x6A
    bus = fake_class(clock, who_am_i=who, address=address, **fake_args)
    part = {"part": "lsm6dsox"} if who == 0x6C else {}  # 0x6C is refused unless the part is named
    imu = driver_class(bus, clock, address=address, **part)
    return clock, bus, imu


def _still_queued(bus, imu=None) -> int:
    """Samples made but not delivered: whole ones in the FIFO, a DSOX pair half read, and the
    ones the driver drops on purpose (the first after start-up)."""
    dropped = getattr(imu, "skipped_samples", 0)
    if isinstance(bus, FakeMpu6050):
        return len(bus.fifo) // 12 + dropped
    return len(bus.words) // (2 if bus.is_dsox else 6) + (1 if bus.is_dsox and len(bus.words) % 2 else 0) + dropped


_run = run_imu


@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS)
def test_a_known_chip_is_accepted_and_named(fake_class, who, driver_class, name):
    _, _, imu = _open(fake_class, who, driver_class)
    assert name in imu.chip
    assert imu.who_am_i == who


@pytest.mark.parametrize("fake_class,who,driver_class", [(FakeMpu6050, 0x12, Mpu6050), (FakeLsm6ds, 0x6B, Lsm6ds3)])
def test_an_unknown_chip_is_refused_saying_what_was_read_and_what_to_check(fake_class, who, driver_class):
    with pytest.raises(OSError) as err:
        _open(fake_class, who, driver_class)
    message = str(err.value)
    assert f"0x{who:02X}" in message and "wiring" in message and "address" in message


def test_nothing_at_the_address_names_the_address_and_the_ad0_pin():
    clock = SimulatedClock()
    bus = FakeMpu6050(clock, address=0x69)
    with pytest.raises(ChipError, match=r"0x68.*0x69 with AD0 high"):
        Mpu6050(bus, clock, address=0x68)


@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS)
def test_samples_come_in_si_units_at_the_configured_rate(fake_class, who, driver_class, name):
    clock, bus, imu = _open(fake_class, who, driver_class)
    samples, health = _run(clock, imu, 1.0)
    assert health == []
    assert len(samples) == pytest.approx(imu.sample_rate_hz, abs=2)
    for s in samples[::17]:
        expected = standing_motion(s.t_s)
        # within one LSB of quantisation and the one-period timing tolerance of the motion
        assert s.az_mps2 == pytest.approx(expected[2], abs=0.02)
        assert s.ax_mps2 == pytest.approx(expected[0], abs=0.02)
        assert s.gz_radps == pytest.approx(expected[5], abs=0.005)
    assert math.hypot(samples[-1].ax_mps2, samples[-1].ay_mps2, samples[-1].az_mps2) == pytest.approx(G, abs=0.1)


def test_the_mpu_registers_follow_the_config():
    clock = SimulatedClock()
    bus = FakeMpu6050(clock)
    imu = Mpu6050(bus, clock, sample_rate_hz=100.0, lowpass_hz=20.0, accel_full_scale_g=8,
                  gyro_full_scale_dps=500)
    assert bus.regs[FakeMpu6050.SMPLRT_DIV] == 9  # 1 kHz / (1 + 9) = 100 Hz
    assert bus.regs[FakeMpu6050.CONFIG] & 0x07 == 4  # DLPF 20 Hz
    assert bus.regs[FakeMpu6050.ACCEL_CONFIG] == 2 << 3  # AFS_SEL = 2: +-8 g
    assert bus.regs[FakeMpu6050.GYRO_CONFIG] == 1 << 3  # FS_SEL = 1: +-500 deg/s
    assert bus.regs[FakeMpu6050.FIFO_EN] == 0x78  # accel and the three gyro axes, no temperature
    assert bus.regs[FakeMpu6050.PWR_MGMT_1] == 0x01  # awake, PLL clock
    assert imu.accel_mps2_per_lsb == pytest.approx(G / 4096)
    assert imu.gyro_radps_per_lsb == pytest.approx(math.radians(1 / 65.5))


def test_the_lsm6ds3_registers_follow_the_config():
    clock = SimulatedClock()
    bus = FakeLsm6ds(clock)
    imu = Lsm6ds3(bus, clock, sample_rate_hz=100.0, lowpass_hz=50.0, accel_full_scale_g=4,
                  gyro_full_scale_dps=1000)
    assert bus.regs[FakeLsm6ds.CTRL1_XL] == (0b0100 << 4) | (0b10 << 2) | 0b11  # 104 Hz, 4 g, BW 50 Hz
    assert bus.regs[FakeLsm6ds.CTRL2_G] == (0b0100 << 4) | (0b10 << 2)  # 104 Hz, 1000 dps
    assert bus.regs[FakeLsm6ds.DS3_FIFO_CTRL5] == (0b0100 << 3) | 0b110  # FIFO at 104 Hz, continuous
    assert imu.sample_rate_hz == 104.0
    assert imu.accel_mps2_per_lsb == pytest.approx(0.122e-3 * G)


@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS)
def test_a_late_loop_tick_loses_no_sample_and_keeps_the_sample_spacing(fake_class, who, driver_class, name):
    clock, bus, imu = _open(fake_class, who, driver_class)
    samples, _ = _run(clock, imu, 0.5)
    clock.advance(0.09)  # the loop is 90 ms late
    late = imu.read()
    assert late.health == []
    more, _ = _run(clock, imu, 0.2)
    everything = samples + late.samples + more
    assert len(everything) == bus.samples_made - _still_queued(bus, imu)
    period = 1.0 / imu.sample_rate_hz
    gaps = [b.t_s - a.t_s for a, b in zip(late.samples, late.samples[1:])]
    assert len(late.samples) >= 17 and all(g == pytest.approx(period, rel=1e-6) for g in gaps)


@pytest.mark.parametrize("rate_error", [-0.03, 0.0, 0.03])
@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS[:1] + CHIPS[6:])
def test_times_stay_monotonic_and_close_to_the_monitor_clock_when_the_chip_clock_drifts(
        fake_class, who, driver_class, name, rate_error):
    clock, bus, imu = _open(fake_class, who, driver_class, start_s=1000.0, rate_error=rate_error)
    last = -math.inf
    period = 1.0 / imu.sample_rate_hz
    delivered = 0
    for k in range(2000):  # 20 s, with a few late ticks
        clock.advance(LOOP_S * (5 if k % 397 == 0 else 1))
        batch = imu.read()
        assert batch.health == []
        delivered += len(batch.samples)
        for s in batch.samples:
            assert last < s.t_s <= clock.t_s  # increasing, never in the future
            last = s.t_s
        if batch.samples:  # the newest is no older than one period (plus the tolerance)
            assert clock.t_s - batch.samples[-1].t_s <= period * 1.05 + 0.002 + 1e-9
    assert delivered == bus.samples_made - _still_queued(bus, imu)  # none lost, none invented



@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS)
def test_a_fifo_overflow_is_reported_and_the_driver_recovers(fake_class, who, driver_class, name):
    clock, bus, imu = _open(fake_class, who, driver_class)
    _run(clock, imu, 0.2)
    clock.advance(30.0)  # the loop stalled far longer than the FIFO holds
    batch = imu.read()
    assert [e.kind for e in batch.health] == [OVERFLOW]
    assert batch.samples == []
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and len(samples) == pytest.approx(0.5 * imu.sample_rate_hz, abs=2)
    assert samples[0].t_s > clock.t_s - 0.6


@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS)
def test_a_failed_read_is_reported_never_raised_and_the_samples_come_next_time(fake_class, who, driver_class, name):
    clock, bus, imu = _open(fake_class, who, driver_class)
    _run(clock, imu, 0.1)
    made_before = bus.samples_made
    bus.fail_next(1)
    clock.advance(LOOP_S)
    batch = imu.read()
    assert [e.kind for e in batch.health] == [READ_FAILED]
    assert "Remote I/O" in batch.health[0].detail
    clock.advance(LOOP_S)
    batch = imu.read()
    assert batch.health == [] and len(batch.samples) >= bus.samples_made - made_before - 1


@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS)
def test_an_unplugged_chip_fails_every_read(fake_class, who, driver_class, name):
    clock, bus, imu = _open(fake_class, who, driver_class)
    bus.unplug()
    _, health = _run(clock, imu, 0.05)
    assert [e.kind for e in health] == [READ_FAILED] * 5


@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS)
def test_a_chip_that_reset_itself_is_reported_and_configured_again(fake_class, who, driver_class, name):
    clock, bus, imu = _open(fake_class, who, driver_class)
    _run(clock, imu, 0.2)
    bus.power_glitch()
    samples, health = _run(clock, imu, imu.reset_check_s + 0.02)
    assert [e.kind for e in health] == [DEVICE_RESET]
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and len(samples) == pytest.approx(0.5 * imu.sample_rate_hz, abs=2)


def test_fifo_reads_over_32_bytes_go_out_as_one_i2c_transaction():
    clock, bus, imu = _open(FakeMpu6050, 0x68, Mpu6050)
    clock.advance(0.005)
    imu.read()  # the first sample, dropped
    clock.advance(0.05)  # 10 samples: 120 bytes
    bus.log.clear()
    batch = imu.read()
    assert len(batch.samples) == 10
    assert (1, 120) in bus.log  # one write of the register, one read of 120 bytes
    assert all(read <= 32 or (wrote, read) == (1, 120) for wrote, read in bus.log)


def test_the_dsox_pairs_gyro_and_accel_words_across_reads():
    clock, bus, imu = _open(FakeLsm6ds, 0x6C, Lsm6ds3)
    clock.advance(0.02)
    bus.advance(clock.t_s)
    bus.words.append(bus.words[0])  # an extra half of a pair at the end is kept for the next read
    del bus.words[0]
    samples, health = _run(clock, imu, 0.3)
    assert health == []
    assert len(samples) >= 0.3 * 208 - 2


@pytest.mark.parametrize("fake_class,who,driver_class,name", CHIPS[:1] + CHIPS[6:7])
def test_close_puts_the_chip_to_sleep_and_is_safe_twice(fake_class, who, driver_class, name):
    clock, bus, imu = _open(fake_class, who, driver_class)
    imu.close()
    imu.close()
    assert bus.is_closed
    assert [e.kind for e in imu.read().health] == [READ_FAILED]
