"""One contract per driver interface, passed by the fake (drivers/fake.py) and by the real driver
on its fake bus or mock pins alike."""

from __future__ import annotations

import pytest

from drivers.fake import FakeBeltSensor, FakeImu, FakeRangeSensor, FakeRelay
from drivers.gpio_relay import GpioRelay
from drivers.hcsr04 import HcSr04
from drivers.interfaces import HEALTH_KINDS, BeltReading, ImuBatch, ImuSample, RangeReading, Relay
from drivers.lsm6ds3 import Lsm6ds3
from drivers.mpu6050 import Mpu6050
from drivers.pulse_belt import PulseBeltSensor
from monitor.service.loop.clock import SimulatedClock
from tests.drivers_support import clocked_factory, pulse
from tests.fake_i2c import FakeLsm6ds, FakeMpu6050, standing_motion

T0 = 5.0


class ImuRig:
    """An IMU with a way to make its next read fail."""

    def __init__(self, kind):
        self.clock = clock = SimulatedClock(T0)
        if kind == "fake":
            samples = [(T0 + i / 200, *standing_motion(T0 + i / 200)) for i in range(1, 2000)]
            self.imu = FakeImu(clock, samples)
            self.fail = lambda: self.imu.fail_reads(clock.t_s + 0.005, clock.t_s + 0.015)
            self.fail_part_way = lambda: self.imu.fail_reads(clock.t_s, clock.t_s + 0.001)
        else:
            fake_class, driver_class, who, address = {
                "mpu6050": (FakeMpu6050, Mpu6050, 0x68, 0x68),
                "lsm6ds3": (FakeLsm6ds, Lsm6ds3, 0x69, 0x6A),
                "lsm6dsox": (FakeLsm6ds, Lsm6ds3, 0x6C, 0x6A),
                "lsm6ds3tr-c": (FakeLsm6ds, Lsm6ds3, 0x6A, 0x6A),
                "icm20689": (FakeMpu6050, Mpu6050, 0x98, 0x68),
            }[kind]
            bus = fake_class(clock, who_am_i=who, address=address)
            part = {"part": "lsm6dsox"} if who == 0x6C else {}  # 0x6C is refused unless the part is named
            self.imu = driver_class(bus, clock, address=address, **part)
            self.fail = lambda: bus.fail_next(1)
            self.fail_part_way = lambda: bus.fail_fifo_read_after(5)  # 5 bytes out, then the transfer breaks


@pytest.fixture(params=["fake", "mpu6050", "icm20689", "lsm6ds3", "lsm6ds3tr-c", "lsm6dsox"])
def imu_rig(request):
    rig = ImuRig(request.param)
    yield rig
    rig.imu.close()


def test_imu_contract_samples_are_new_in_time_order_and_in_si_units(imu_rig):
    clock, imu = imu_rig.clock, imu_rig.imu
    last = -1.0
    count = 0
    for _ in range(50):
        clock.advance(0.01)
        batch = imu.read()
        assert isinstance(batch, ImuBatch)
        for s in batch.samples:
            assert isinstance(s, ImuSample) and last < s.t_s <= clock.t_s
            assert 9.0 < s.az_mps2 < 10.6 and abs(s.gx_radps) < 0.1  # standing: m/s2 and rad/s
            last = s.t_s
        count += len(batch.samples)
    assert count >= 95  # about 0.5 s at 200 Hz


def test_imu_contract_a_failed_read_is_a_health_event_not_an_exception(imu_rig):
    imu_rig.clock.advance(0.1)
    imu_rig.imu.read()
    imu_rig.fail()
    imu_rig.clock.advance(0.01)
    batch = imu_rig.imu.read()
    assert [e.kind for e in batch.health] == ["read_failed"]
    assert all(e.kind in HEALTH_KINDS for e in batch.health)


def test_imu_contract_after_a_read_that_broke_off_part_way_every_sample_is_still_right(imu_rig):
    clock, imu = imu_rig.clock, imu_rig.imu
    clock.advance(0.1)
    imu.read()
    clock.advance(0.05)
    imu_rig.fail_part_way()
    batch = imu.read()
    assert "read_failed" in [e.kind for e in batch.health]
    assert all(e.kind in HEALTH_KINDS for e in batch.health)
    count = 0
    for _ in range(50):
        clock.advance(0.01)
        batch = imu.read()
        assert all(e.kind == "overflow" for e in batch.health)  # a loss found later is said so
        for s in batch.samples:
            assert 9.0 < s.az_mps2 < 10.6 and abs(s.gx_radps) < 0.1  # still a person standing: no misaligned frames
        count += len(batch.samples)
    assert count >= 80


def test_imu_contract_close_is_safe_twice(imu_rig):
    imu_rig.imu.close()
    imu_rig.imu.close()


# -- belt ------------------------------------------------------------------------------------------
@pytest.fixture(params=["fake", "pulse"])
def belt_rig(request):
    clock = SimulatedClock(T0)
    if request.param == "fake":
        sensor = FakeBeltSensor(clock, [(T0 + 0.01 * i, 1.0) for i in range(1, 300)])

        def run_at_one_mps(until_s):
            clock.t_s = until_s
    else:
        factory = clocked_factory(clock)
        sensor = PulseBeltSensor(27, clock, pulses_per_m=10.0, pin_factory=factory)
        pin = factory.pin(27)

        def run_at_one_mps(until_s):
            t = T0 + 0.1
            while t < until_s:
                pulse(pin, clock, t)
                t += 0.1
            clock.t_s = until_s
    yield clock, sensor, run_at_one_mps
    sensor.close()


def test_belt_contract_the_newest_reading_in_m_per_s_at_a_time_not_in_the_future(belt_rig):
    clock, sensor, run_at_one_mps = belt_rig
    run_at_one_mps(T0 + 1.0)
    reading = sensor.read()
    assert isinstance(reading, BeltReading)
    assert reading.speed_mps == pytest.approx(1.0, rel=0.02)
    assert T0 + 0.9 <= reading.t_s <= clock.t_s


def test_belt_contract_close_is_safe_twice(belt_rig):
    _, sensor, _ = belt_rig
    sensor.close()
    sensor.close()


# -- range -------------------------------------------------------------------------------------------
@pytest.fixture(params=["fake", "hcsr04"])
def range_rig(request):
    clock = SimulatedClock(T0)
    if request.param == "fake":
        sensor = FakeRangeSensor(clock, [(T0 + 0.5, 0.8)])

        def ping(t_s, distance_m):
            clock.t_s = t_s
    else:
        sensor = HcSr04(23, 24, clock, max_distance_m=2.0, pin_factory=clocked_factory(clock))

        def ping(t_s, distance_m):
            clock.t_s = t_s
            sensor._on_reading(distance_m / 2.0)  # where the echo-timing thread reports a ping
    yield clock, sensor, ping
    sensor.close()


def test_range_contract_each_reading_once_in_metres(range_rig):
    clock, sensor, ping = range_rig
    assert sensor.read() is None
    ping(T0 + 0.5, 0.8)
    reading = sensor.read()
    assert isinstance(reading, RangeReading)
    assert reading == (T0 + 0.5, pytest.approx(0.8))
    assert sensor.read() is None


# -- relay ------------------------------------------------------------------------------------------
@pytest.fixture(params=["fake", "gpio", "gpio-charge-pump"])
def relay(request):
    clock = SimulatedClock(T0)
    if request.param == "fake":
        yield FakeRelay(clock)
    elif request.param == "gpio":
        yield GpioRelay(17, clock, pin_factory=clocked_factory(clock))
    else:
        yield GpioRelay(17, clock, drive="charge_pump", pin_factory=clocked_factory(clock))


def test_relay_contract_starts_released_follows_commands_and_closes_released(relay):
    assert isinstance(relay, Relay)
    assert not relay.is_energized
    relay.energize()
    assert relay.is_energized
    relay.release()
    relay.release()  # releasing twice is fine
    assert not relay.is_energized
    relay.energize()
    relay.close()
    assert not relay.is_energized
    relay.close()
    with pytest.raises(OSError):
        relay.energize()
