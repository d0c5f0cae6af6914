"""The IMU drivers through the faults real buses and real chips have: a FIFO read that breaks
off part-way, a count gone stale before the data is read, a chip still resetting, a gyro not
yet in spec, the LSM6DSOX's invalid-sample marker, a bus error while recovering from an
overflow, and the boards people buy (LSM6DS3TR-C, ICM-20689)."""

from __future__ import annotations

import math

import pytest

from drivers.interfaces import DEVICE_RESET, OVERFLOW, READ_FAILED
from drivers.lsm6ds3 import Lsm6ds3
from drivers.mpu6050 import Mpu6050
from monitor.service.loop.clock import SimulatedClock
from tests.drivers_support import run_imu
from tests.fake_i2c import FakeLsm6ds, FakeMpu6050, G

LOOP_S = 0.01
MPU_FAMILY = [pytest.param(0x68, id="mpu6050"), pytest.param(0x70, id="mpu6500"), pytest.param(0x98, id="icm20689")]


class Waits:
    """The driver's sleep: records each wait and moves the simulated clock on by it."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.clock.advance(seconds)


def _mpu(who=0x68, **fake_args):
    clock = SimulatedClock(100.0)
    bus = FakeMpu6050(clock, who_am_i=who, **fake_args)
    waits = Waits(clock)
    return clock, bus, Mpu6050(bus, clock, sleep=waits), waits


def _lsm(who=0x69, **fake_args):
    clock = SimulatedClock(100.0)
    bus = FakeLsm6ds(clock, who_am_i=who, **fake_args)
    waits = Waits(clock)
    part = "lsm6dsox" if who == 0x6C else "auto"  # 0x6C is refused unless the part is named
    return clock, bus, Lsm6ds3(bus, clock, sleep=waits, part=part), waits


_run = run_imu


def _is_still(s) -> bool:
    """What a still IMU reads (the fakes' standing motion): 1 g, almost no rotation."""
    return (abs(math.hypot(s.ax_mps2, s.ay_mps2, s.az_mps2) - G) < 0.3
            and max(abs(s.gx_radps), abs(s.gy_radps), abs(s.gz_radps)) < 0.1)


def _queue_mpu_samples(clock, bus, imu, n):
    """Leave exactly n samples in the FIFO, unread (the loop did not come)."""
    period = 1.0 / imu.sample_rate_hz
    while len(bus.fifo) // 12 < n:
        clock.advance(period / 4)
        bus.advance(clock.t_s)
    assert len(bus.fifo) == n * 12


# -- 1. a FIFO read that breaks off part-way ---------------------------------------------------
@pytest.mark.parametrize("who", MPU_FAMILY)
@pytest.mark.parametrize("bytes_out", [1, 5, 12, 61])
def test_a_fifo_read_that_breaks_off_part_way_resets_the_fifo_and_says_samples_were_lost(who, bytes_out):
    clock, bus, imu, _ = _mpu(who)
    _run(clock, imu, 0.1)
    clock.advance(0.1)  # 20 samples waiting: one burst of 240 bytes
    bus.fail_fifo_read_after(bytes_out)
    batch = imu.read()
    assert sorted(e.kind for e in batch.health) == [OVERFLOW, READ_FAILED] and batch.samples == []
    assert "part-way" in next(e.detail for e in batch.health if e.kind == OVERFLOW)
    samples, health = _run(clock, imu, 1.0)
    assert health == []
    assert len(samples) >= 0.9 * imu.sample_rate_hz
    assert all(_is_still(s) for s in samples), "misaligned frames delivered as samples"


def test_a_read_that_fails_before_any_fifo_byte_left_is_only_a_failed_read():
    clock, bus, imu, _ = _mpu()
    _run(clock, imu, 0.1)
    bus.fail_next(1)  # INT_STATUS: nothing left the FIFO
    clock.advance(LOOP_S)
    assert [e.kind for e in imu.read().health] == [READ_FAILED]
    clock.advance(LOOP_S)
    batch = imu.read()
    assert batch.health == [] and len(batch.samples) == 4 and all(_is_still(s) for s in batch.samples)


# -- 2. the count is stale by the time the data is read ----------------------------------------
def test_a_count_near_full_is_an_overflow_because_it_can_be_stale_by_the_data_read():
    clock, bus, imu, _ = _mpu()  # 1024-byte FIFO, 12-byte samples at 200 Hz
    _run(clock, imu, 0.1)
    _queue_mpu_samples(clock, bus, imu, 84)  # 1008 bytes
    bus.stall_after_reading(FakeMpu6050.FIFO_COUNTL, 0.012)  # preempted for 12 ms after the count
    batch = imu.read()
    assert [e.kind for e in batch.health] == [OVERFLOW]
    assert all(_is_still(s) for s in batch.samples)
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and all(_is_still(s) for s in samples) and len(samples) >= 95


@pytest.mark.parametrize("queued,is_overflow", [(82, False), (83, True)])
def test_the_near_full_margin_is_three_samples(queued, is_overflow):
    # 1024 - 3 * 12 = 988 bytes: 82 samples (984 bytes) are read, 83 (996 bytes) are not trusted.
    clock, bus, imu, _ = _mpu()
    _run(clock, imu, 0.1)
    _queue_mpu_samples(clock, bus, imu, queued)
    batch = imu.read()
    assert [e.kind for e in batch.health] == ([OVERFLOW] if is_overflow else [])
    assert len(batch.samples) == (0 if is_overflow else queued)


# -- 3. start-up: the reset's settle time, the gyro start-up time, the first sample ------------
@pytest.mark.parametrize("who", MPU_FAMILY)
def test_start_up_waits_for_the_reset_and_the_gyro_through_the_given_sleep(who):
    clock, bus, imu, waits = _mpu(who)
    startup_s = 0.06 if who == 0x68 else 0.07
    assert sum(waits.seconds) >= 0.1 + startup_s - 1e-9  # 100 ms after DEVICE_RESET, then the gyro
    assert sum(waits.seconds) < 0.3
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and len(samples) >= 95
    assert all(_is_still(s) for s in samples), "an out-of-spec gyro sample was delivered"
    assert imu.skipped_samples == 1  # the first one after the FIFO started


def test_start_up_without_a_sleep_waits_through_the_clock():
    clock = SimulatedClock(100.0)
    bus = FakeMpu6050(clock)
    Mpu6050(bus, clock)  # SimulatedClock.sleep_until moves it on: no test sleeps
    assert clock.t_s >= 100.16


@pytest.mark.parametrize("who", MPU_FAMILY)
def test_a_chip_that_reset_itself_starts_up_again_across_ticks_without_the_loop_waiting(who):
    clock, bus, imu, waits = _mpu(who)
    _run(clock, imu, 0.2)
    waited = list(waits.seconds)
    bus.power_glitch()
    health, samples, longest_tick_s = [], [], 0.0
    for _ in range(100):  # 1 s
        clock.advance(LOOP_S)
        before = clock.t_s
        batch = imu.read()
        longest_tick_s = max(longest_tick_s, clock.t_s - before)
        health += batch.health
        samples += batch.samples
    assert waits.seconds == waited and longest_tick_s == 0.0  # nothing waited inside read()
    assert [e.kind for e in health] == [DEVICE_RESET]
    assert all(_is_still(s) for s in samples), "an out-of-spec gyro sample was delivered"
    assert samples[-1].t_s > clock.t_s - 0.02 and len(samples) >= 0.3 * imu.sample_rate_hz


# -- 5. a bus error while recovering from an overflow ------------------------------------------
def test_a_bus_error_during_overflow_recovery_still_reports_the_overflow_and_restarts_the_fifo_mpu():
    clock, bus, imu, _ = _mpu()
    _run(clock, imu, 0.2)
    clock.advance(30.0)
    bus.fail_write(FakeMpu6050.USER_CTRL, nth=2)  # the write that starts the FIFO again
    batch = imu.read()
    assert OVERFLOW in [e.kind for e in batch.health]
    samples, health = _run(clock, imu, 1.0)
    assert DEVICE_RESET not in [e.kind for e in health] and health == []
    assert len(samples) >= 0.9 * imu.sample_rate_hz and all(_is_still(s) for s in samples)


@pytest.mark.parametrize("who", [pytest.param(0x69, id="lsm6ds3"), pytest.param(0x6C, id="lsm6dsox"),
                                 pytest.param(0x6A, id="lsm6ds3tr-c")])
def test_a_bus_error_during_overflow_recovery_still_reports_the_overflow_and_restarts_the_fifo_lsm(who):
    clock, bus, imu, _ = _lsm(who)
    _run(clock, imu, 0.2)
    clock.advance(30.0)
    bus.fail_write(0x0A, nth=2)  # FIFO_CTRL5 / FIFO_CTRL4: the write back to continuous mode
    batch = imu.read()
    assert OVERFLOW in [e.kind for e in batch.health]
    samples, health = _run(clock, imu, 1.0)
    assert health == []
    assert len(samples) >= 0.9 * imu.sample_rate_hz and all(_is_still(s) for s in samples)


@pytest.mark.parametrize("who", [pytest.param(0x68, id="mpu6050"), pytest.param(0x69, id="lsm6ds3")])
def test_a_fifo_reset_that_keeps_failing_is_not_mistaken_for_a_chip_reset(who):
    clock, bus, imu, _ = _mpu(who) if who == 0x68 else _lsm(who)
    _run(clock, imu, 0.2)
    clock.advance(30.0)
    register = FakeMpu6050.USER_CTRL if who == 0x68 else 0x0A
    bus.fail_write(register, nth=2)  # the FIFO is left off...
    health = imu.read().health
    for _ in range(60):  # ... and every write to restart it fails for 0.6 s, past a reset check
        bus.fail_write(register, nth=1)
        clock.advance(LOOP_S)
        health += imu.read().health
    assert {e.kind for e in health} == {OVERFLOW, READ_FAILED}  # said what happened, not "the chip reset"
    samples, later = _run(clock, imu, 0.6)
    assert later == [] and len(samples) >= 0.55 * imu.sample_rate_hz


# -- 4. the LSM6DSOX's invalid-sample marker ---------------------------------------------------
@pytest.mark.parametrize("marker", [0x7FFD, 0x7FFE, 0x7FFF])
def test_the_dsox_drops_the_invalid_sample_marker_of_its_bootstrap_phase(marker):
    clock = SimulatedClock(100.0)
    bus = FakeLsm6ds(clock, who_am_i=0x6C, bootstrap_samples=3, invalid_marker=marker)
    imu = Lsm6ds3(bus, clock, sleep=Waits(clock), part="lsm6dsox")
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and bus.invalid_words_made >= 3
    assert all(_is_still(s) for s in samples), "the invalid marker came out as a 40 rad/s sample"
    assert len(samples) >= 0.5 * imu.sample_rate_hz - 6


def test_after_the_bootstrap_phase_a_saturated_dsox_reading_is_kept():
    # A real fall can saturate the gyro: past the bootstrap phase, full scale is data, not a marker.
    spin = [False]

    def motion(t_s):
        return (0.0, 0.0, G, 40.0 if spin[0] else 0.0, 0.0, 0.0)  # 40 rad/s: over the 2000 dps range

    clock = SimulatedClock(100.0)
    bus = FakeLsm6ds(clock, who_am_i=0x6C, motion=motion)
    imu = Lsm6ds3(bus, clock, sleep=Waits(clock), part="lsm6dsox")
    _run(clock, imu, 0.2)
    spin[0] = True
    samples, _ = _run(clock, imu, 0.1)
    assert samples and all(s.gx_radps > 30.0 for s in samples[3:])


# -- 7. the boards people buy -----------------------------------------------------------------
def test_the_lsm6ds3tr_c_is_accepted_with_its_4_kb_fifo_and_11_bit_count():
    clock, bus, imu, _ = _lsm(0x6A)
    assert "LSM6DS3TR-C" in imu.chip
    samples, health = _run(clock, imu, 1.0)
    assert health == [] and len(samples) == pytest.approx(imu.sample_rate_hz, abs=2)
    assert all(_is_still(s) for s in samples)
    # 2048 words = 341 samples at 208 Hz is 1.6 s: a 1.5 s stall loses nothing...
    clock.advance(1.5)
    batch = imu.read()
    assert batch.health == [] and len(batch.samples) >= 300 and all(_is_still(s) for s in batch.samples)
    # ... a 3 s stall overruns it, and is reported (the 12-bit count of the LSM6DS3 would read garbage)
    clock.advance(3.0)
    assert [e.kind for e in imu.read().health] == [OVERFLOW]
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and len(samples) >= 95 and all(_is_still(s) for s in samples)


def test_the_icm20689_gets_its_4_kb_fifo():
    clock, bus, imu, _ = _mpu(0x98)
    assert bus.regs[FakeMpu6050.ACCEL_CONFIG2] & 0xC0 == 0xC0 and imu.fifo_bytes == 4096
    _run(clock, imu, 0.2)
    clock.advance(1.5)  # 300 samples: 3600 bytes, more than 512
    batch = imu.read()
    assert batch.health == [] and len(batch.samples) == pytest.approx(300, abs=2)
    assert all(_is_still(s) for s in batch.samples)


def test_a_clone_answering_0x98_without_the_fifo_size_bits_is_run_at_512_bytes():
    clock, bus, imu, _ = _mpu(0x98, has_fifo_size_bits=False)
    assert imu.fifo_bytes == 512
    _run(clock, imu, 0.2)
    clock.advance(1.5)
    assert [e.kind for e in imu.read().health] == [OVERFLOW]


# -- 8. the LSM6 family's gyroscope turn-on time ------------------------------------------------
LSM_FAMILY = [pytest.param(0x69, id="lsm6ds3"), pytest.param(0x6C, id="lsm6dsox"), pytest.param(0x6A, id="lsm6ds3tr-c")]


@pytest.mark.parametrize("who", LSM_FAMILY)
def test_lsm_start_up_waits_for_the_gyro_to_settle_and_hands_over_no_unsettled_sample(who):
    from drivers.lsm6ds3 import GYRO_TURN_ON_S

    clock, bus, imu, waits = _lsm(who)
    assert sum(waits.seconds) >= GYRO_TURN_ON_S >= FakeLsm6ds.GYRO_TURN_ON_S  # the datasheet's figure, no less
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and len(samples) >= 0.45 * imu.sample_rate_hz
    assert all(_is_still(s) for s in samples), "a gyro sample from its turn-on time was delivered"


@pytest.mark.parametrize("who", LSM_FAMILY)
def test_an_lsm_chip_that_reset_itself_waits_for_its_gyro_again_without_the_loop_waiting(who):
    clock, bus, imu, waits = _lsm(who)
    _run(clock, imu, 0.6)  # past a reset check
    waited = list(waits.seconds)
    bus.power_glitch()  # a brown-out: every register back to its reset value, the gyro powered down
    health, samples, longest_tick_s = [], [], 0.0
    for _ in range(100):  # 1 s
        clock.advance(LOOP_S)
        before = clock.t_s
        batch = imu.read()
        longest_tick_s = max(longest_tick_s, clock.t_s - before)
        health += batch.health
        samples += batch.samples
    assert waits.seconds == waited and longest_tick_s == 0.0  # nothing waited inside read()
    assert [e.kind for e in health] == [DEVICE_RESET]
    assert all(_is_still(s) for s in samples), "a gyro sample from its turn-on time was delivered"
    assert samples[-1].t_s > clock.t_s - 0.02 and len(samples) >= 0.3 * imu.sample_rate_hz


@pytest.mark.parametrize("early_s,is_started", [(1e-4, False), (0.0, True)])
def test_after_a_reset_the_lsm_fifo_starts_exactly_when_the_turn_on_time_has_passed(early_s, is_started):
    from drivers.lsm6ds3 import GYRO_TURN_ON_S

    clock, bus, imu, _ = _lsm(0x69)
    _run(clock, imu, 0.6)
    bus.power_glitch()
    health = []
    while not health:  # until the driver's reset check finds it and configures the chip again
        clock.advance(LOOP_S)
        health = imu.read().health
    assert [e.kind for e in health] == [DEVICE_RESET]
    configured_s = clock.t_s
    clock.t_s = configured_s + GYRO_TURN_ON_S - early_s
    imu.read()
    assert (bus.regs[FakeLsm6ds.DS3_FIFO_CTRL5] & 0x07 == 0b110) is is_started


# -- 9. the LSM6DSO32, which answers 0x6C like the LSM6DSOX ------------------------------------
@pytest.mark.parametrize("full_scale_g", [4, 8, 16])
def test_an_lsm6dso32_named_in_the_config_reads_1_g_as_9_81_at_every_range(full_scale_g):
    clock = SimulatedClock(100.0)
    bus = FakeLsm6ds(clock, who_am_i=0x6C, is_dso32=True)
    imu = Lsm6ds3(bus, clock, sleep=Waits(clock), part="lsm6dso32", accel_full_scale_g=full_scale_g)
    assert imu.chip == "LSM6DSO32"
    samples, health = _run(clock, imu, 0.5)
    assert health == [] and samples
    assert all(abs(math.hypot(s.ax_mps2, s.ay_mps2, s.az_mps2) - G) < 0.1 for s in samples)


@pytest.mark.parametrize("is_dso32", [True, False], ids=["lsm6dso32", "lsm6dsox"])
def test_a_chip_answering_0x6c_is_refused_until_the_config_names_the_part(is_dso32):
    from drivers.fifo_imu import ChipError

    clock = SimulatedClock(100.0)
    bus = FakeLsm6ds(clock, who_am_i=0x6C, is_dso32=is_dso32)
    with pytest.raises(ChipError) as err:
        Lsm6ds3(bus, clock, sleep=Waits(clock))
    message = str(err.value)
    assert "0x6C" in message and "LSM6DSO32" in message and "LSM6DSOX" in message
    assert 'imu.part = "lsm6dsox", "lsm6dso" or "lsm6dso32"' in message


def test_a_named_part_that_is_not_the_chip_on_the_bus_is_refused():
    from drivers.fifo_imu import ChipError

    clock = SimulatedClock(100.0)
    with pytest.raises(ChipError, match=r'imu.part = "lsm6dso32".*answers 0x69 \(LSM6DS3\).*imu.part = "auto"'):
        Lsm6ds3(FakeLsm6ds(clock, who_am_i=0x69), clock, sleep=Waits(clock), part="lsm6dso32")


def test_the_config_names_the_part_for_the_lsm6ds3_driver_only_and_with_the_parts_own_ranges():
    from monitor.config.load import ConfigError, parse_config

    assert parse_config({"imu": {"driver": "lsm6ds3", "part": "lsm6dso32"}}).imu.part == "lsm6dso32"
    with pytest.raises(ConfigError, match=r'imu.part = "lsm6dso32".*imu.driver = "lsm6ds3"'):
        parse_config({"imu": {"driver": "mpu6050", "part": "lsm6dso32"}})
    with pytest.raises(ConfigError, match=r"imu.accel_full_scale_g is 2, which the LSM6DSO32 does not have"):
        parse_config({"imu": {"driver": "lsm6ds3", "part": "lsm6dso32", "accel_full_scale_g": 2}})
    assert parse_config({"imu": {"driver": "lsm6ds3", "part": "lsm6dso32", "accel_full_scale_g": 4}})


def test_the_daemon_opens_the_part_the_config_names():
    from monitor.config.load import parse_config
    from monitor.service.sessions.hardware import open_devices
    from tests.drivers_support import clocked_factory

    config = parse_config({"imu": {"driver": "lsm6ds3", "part": "lsm6dso32"}, "belt": {"enabled": False}})
    clock = SimulatedClock(100.0)
    devices = open_devices(config, clock, i2c_bus=FakeLsm6ds(clock, who_am_i=0x6C, is_dso32=True),
                           pin_factory=clocked_factory(clock))
    try:
        assert devices.imu.chip == "LSM6DSO32"
        samples, _ = _run(clock, devices.imu, 0.3)
        assert samples and abs(math.hypot(samples[-1].ax_mps2, samples[-1].ay_mps2, samples[-1].az_mps2) - G) < 0.1
    finally:
        devices.close()
