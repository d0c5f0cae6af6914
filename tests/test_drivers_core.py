"""The real drivers' trouble reaches the safety core as sensor faults, and the daemon
opens the real drivers (on a fake bus and mock pins) and releases the relay in the trip's tick."""

from __future__ import annotations

import pytest

from drivers.lsm6ds3 import Lsm6ds3
from drivers.mpu6050 import Mpu6050
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon
from monitor.service.sessions.hardware import HardwareError, open_devices
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeLsm6ds, FakeMpu6050
from tests.support import IDENTITY_MOUNT, with_settings

TICK_S = 0.01
IMUS = [pytest.param(FakeMpu6050, 0x68, Mpu6050, id="mpu6050"),
        pytest.param(FakeLsm6ds, 0x6C, Lsm6ds3, id="lsm6dsox")]


class Loop:
    """The daemon's IMU path, tick by tick: the real driver on its fake bus into the core."""

    def __init__(self, fake_class, who, driver_class):
        self.clock = SimulatedClock(50.0)
        address = 0x68 if fake_class is FakeMpu6050 else 0x6A
        self.bus = fake_class(self.clock, who_am_i=who, address=address)
        part = {"part": "lsm6dsox"} if who == 0x6C else {}  # 0x6C is refused unless the part is named
        self.imu = driver_class(self.bus, self.clock, address=address, **part)
        self.core = SafetyCore(Config(), start_s=self.clock.t_s, imu_mount=IDENTITY_MOUNT,
                               has_belt=False, has_range=False)

    def tick(self):
        self.clock.advance(TICK_S)
        batch = self.imu.read()
        self.core.ingest_imu(batch.samples, batch.health)
        return self.core.tick(self.clock.t_s)

    def armed(self):
        for _ in range(100):
            self.tick()
        self.core.request_reset()
        verdict = self.tick()
        assert verdict.state is LatchState.ARMED, verdict.problems
        return self

    def details(self, ticks):
        found = []
        for _ in range(ticks):
            found += [p.detail for p in self.tick().problems]
        return found


@pytest.mark.parametrize("fake_class,who,driver_class", IMUS)
def test_a_single_failed_read_does_not_trip(fake_class, who, driver_class):
    loop = Loop(fake_class, who, driver_class).armed()
    loop.bus.fail_next(1)
    assert loop.details(50) == []
    assert loop.core.state is LatchState.ARMED


@pytest.mark.parametrize("fake_class,who,driver_class", IMUS)
def test_three_failed_reads_in_a_row_trip(fake_class, who, driver_class):
    loop = Loop(fake_class, who, driver_class).armed()
    loop.bus.fail_next(3)  # each read fails on its first transaction
    assert loop.details(2) == []
    assert loop.details(1) == ["imu_read_failed"]
    assert loop.core.state is LatchState.TRIPPED


@pytest.mark.parametrize("fake_class,who,driver_class", IMUS)
def test_a_fifo_overflow_trips(fake_class, who, driver_class):
    loop = Loop(fake_class, who, driver_class).armed()
    if fake_class is FakeMpu6050:
        loop.bus.regs[FakeMpu6050.INT_STATUS] |= 0x10  # the chip flags FIFO_OFLOW_INT
    else:
        loop.bus.is_overrun = True  # the chip flags FIFO_OVR_IA
    assert "imu_overflow" in loop.details(1)
    assert loop.core.state is LatchState.TRIPPED


@pytest.mark.parametrize("fake_class,who,driver_class", IMUS)
def test_an_unplugged_chip_trips(fake_class, who, driver_class):
    loop = Loop(fake_class, who, driver_class).armed()
    loop.bus.unplug()
    details = loop.details(3)
    assert "imu_read_failed" in details
    assert loop.core.state is LatchState.TRIPPED
    assert "imu_stale" in loop.details(5)


@pytest.mark.parametrize("fake_class,who,driver_class", IMUS)
def test_a_chip_that_reset_itself_trips(fake_class, who, driver_class):
    loop = Loop(fake_class, who, driver_class).armed()
    loop.bus.power_glitch()
    assert "imu_device_reset" in loop.details(60)
    assert loop.core.state is LatchState.TRIPPED


# -- the daemon on the real drivers --------------------------------------------------------------
def _hardware_config(**sections) -> Config:
    config = with_settings(Config(), imu={"driver": "mpu6050", "mount": IDENTITY_MOUNT},
                           belt={"driver": "pulse"}, relay={"driver": "gpio"})
    return with_settings(config, **sections) if sections else config


def test_the_daemon_runs_the_real_drivers_trips_and_releases_the_relay_pin_in_that_tick():
    config = _hardware_config()
    clock = SimulatedClock(10.0)
    bus = FakeMpu6050(clock)
    factory = clocked_factory(clock)
    devices = open_devices(config, clock, i2c_bus=bus, pin_factory=factory)
    relay_pin = factory.pin(config.relay.pin)
    daemon = Daemon(SafetyCore(config, start_s=clock.now()), devices, clock)
    seen = []

    def on_tick(verdict, core):
        seen.append((verdict, relay_pin.state))
        if len(seen) == 100:
            core.request_reset()  # a person arms it once the sensors have answered for a second
        if verdict.t_s >= 12.0 and not bus.is_unplugged:
            bus.unplug()  # the IMU's cable is pulled

    daemon.on_tick = on_tick
    stats = daemon.run(until_s=13.0)
    assert any(v.state is LatchState.ARMED and state for v, state in seen)  # it did run, relay energized
    trip = stats.first_trip
    assert trip is not None and trip.t_s == pytest.approx(12.03, abs=0.011)
    assert {p.detail for p in trip.problems} & {"imu_read_failed", "imu_stale"}
    trip_tick = [state for v, state in seen if v.is_new_trip]
    assert trip_tick == [False]  # the relay pin was at its released level in the trip's own tick
    assert all(not state for v, state in seen if v.t_s >= trip.t_s)
    assert relay_pin.state is False and bus.is_closed  # closed at the end, released


def test_a_missing_imu_closes_the_relay_it_opened_and_says_what_to_check():
    config = _hardware_config()
    clock = SimulatedClock()
    factory = clocked_factory(clock)
    bus = FakeMpu6050(clock, address=0x69)  # the board's AD0 is high
    with pytest.raises(HardwareError, match=r"\[imu\].*0x69 with AD0 high"):
        open_devices(config, clock, i2c_bus=bus, pin_factory=factory)
    assert factory.pin(config.relay.pin).state is False
    open_devices(config, clock, i2c_bus=FakeMpu6050(clock), pin_factory=factory).close()  # pins were freed


def test_a_config_for_the_lsm6ds3_opens_it_at_its_own_address():
    config = _hardware_config(imu={"driver": "lsm6ds3"})
    clock = SimulatedClock()
    devices = open_devices(config, clock, i2c_bus=FakeLsm6ds(clock), pin_factory=clocked_factory(clock))
    assert devices.imu.chip == "LSM6DS3"
    devices.close()
