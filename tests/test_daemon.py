"""The daemon loop on fake hardware and a simulated clock: the relay follows the
decision in the same tick, and every way of stopping releases it first."""

import os
import signal

import pytest

from drivers.fake import FakeBeltSensor, FakeImu, FakeRangeSensor, FakeRelay
from monitor.config.schema import Config
from monitor.formats.trace_reader import read_trace
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices
from monitor.service.sessions.replay import build_replay
from tests.support import IDENTITY_MOUNT, sisfall, standing, with_settings


def make(config=Config(), *, seconds=10.0, belt=None, range_readings=None, imu_samples=None):
    clock = SimulatedClock(0.0)
    imu = FakeImu(clock, imu_samples if imu_samples is not None else standing(0.0, seconds, 200.0))
    devices = Devices(imu=imu, relay=FakeRelay(clock),
                      belt=None if belt is None else FakeBeltSensor(clock, belt),
                      range_sensor=None if range_readings is None else FakeRangeSensor(clock, range_readings))
    core = SafetyCore(config, start_s=0.0, imu_mount=IDENTITY_MOUNT,
                      has_belt=belt is not None, has_range=range_readings is not None)
    return Daemon(core, devices, clock), devices, clock


def test_the_relay_is_released_in_the_tick_of_the_trip():
    daemon, devices, _ = make()
    devices.imu.fail_reads(4.0)
    stats = daemon.run(until_s=6.0, arm_at_start=True)
    trip = stats.first_trip
    assert trip.trip.reason == "sensor_fault" and trip.trip.detail == "imu_read_failed"
    assert devices.relay.changes[0] == (0.0, True)  # energized in the tick of the reset
    assert devices.relay.changes[1] == (trip.t_s, False)  # released in the tick of the trip
    assert len(devices.relay.changes) == 2  # and never again energized by itself
    assert trip.t_s == pytest.approx(4.02)  # the third failed read in a row, at 100 Hz


def test_a_real_stumble_releases_the_relay_in_its_tick():
    trace = read_trace(sisfall("D18-SA01-R01"))
    daemon = build_replay(trace, Config())
    stats = daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True)
    assert stats.first_trip.trip.reason == "stumble"
    released = [t for t, energized in daemon.devices.relay.changes if not energized]
    assert released[0] == stats.first_trip.t_s
    assert stats.last.state is LatchState.TRIPPED  # held to the end of the trace


def test_ticks_run_at_the_loop_rate_on_the_simulated_clock():
    daemon, _, _ = make(with_settings(loop={"rate_hz": 50.0}))
    stats = daemon.run(until_s=2.0, arm_at_start=True)
    assert stats.ticks == 101 and stats.first_trip is None and stats.late_ticks == 0


def test_without_a_reset_the_relay_is_never_energized():
    daemon, devices, _ = make()
    stats = daemon.run(until_s=3.0)
    assert devices.relay.changes == [] and stats.last.state is LatchState.UNARMED


@pytest.mark.parametrize("script,detail,within_s", [
    ("freeze", "imu_frozen", 1.0),
    ("go_silent", "imu_stale", 0.1),
    ("overflow", "imu_overflow", 0.02),
])
def test_imu_failures_trip(script, detail, within_s):
    daemon, devices, _ = make()
    if script == "overflow":
        devices.imu.overflow(3.0)
    else:
        getattr(devices.imu, script)(3.0)
    trip = daemon.run(until_s=6.0, arm_at_start=True).first_trip
    assert trip.trip.detail == detail
    assert 3.0 <= trip.t_s <= 3.0 + within_s


def test_a_belt_sensor_that_stops_answering_trips():
    belt = [(k / 10, 0.0) for k in range(100)]  # stopped: standing still is fine
    daemon, devices, _ = make(belt=belt)
    devices.belt.fail_reads(5.0)
    trip = daemon.run(until_s=8.0, arm_at_start=True).first_trip
    assert trip.trip.detail == "belt_stale" and 5.4 < trip.t_s <= 5.6


def test_a_range_sensor_that_goes_silent_trips():
    ranges = [(k / 20, 0.7) for k in range(200)]
    config = with_settings(range={"enabled": True})
    daemon, devices, _ = make(config, range_readings=ranges)
    devices.range_sensor.go_silent(4.0)
    trip = daemon.run(until_s=8.0, arm_at_start=True).first_trip
    assert trip.trip.detail == "range_stale" and 4.2 < trip.t_s <= 4.35


def test_an_imu_driver_that_raises_counts_as_failed_reads():
    daemon, devices, _ = make()

    def broken():
        raise RuntimeError("bus went away")

    devices.imu.read = broken
    trip = daemon.run(until_s=1.0, arm_at_start=True).first_trip
    assert trip.t_s == 0.0 and trip.trip.detail == "imu_no_data"  # the reset is refused at once
    assert devices.relay.changes == []


def test_a_stalled_loop_is_a_fault_and_missed_ticks_are_skipped():
    daemon, devices, clock = make()
    real_read = devices.imu.read

    def stalling_read():
        if 2.0 <= clock.now() < 2.005:
            clock.advance(0.3)  # the process was not scheduled for 0.3 s
        return real_read()

    devices.imu.read = stalling_read
    stats = daemon.run(until_s=4.0, arm_at_start=True)
    assert stats.first_trip.trip.detail == "loop_late"
    assert stats.late_ticks == 29  # 2.01 s to 2.29 s


def test_sigterm_releases_the_relay_at_once_and_closes_the_devices():
    daemon, devices, clock = make()
    seen = []

    def on_tick(verdict, core):
        seen.append(verdict.t_s)
        if verdict.t_s == pytest.approx(1.0):
            os.kill(os.getpid(), signal.SIGTERM)
            # the handler has run before the next line: released now, not at the end
            assert not devices.relay.is_energized

    daemon.on_tick = on_tick
    daemon.install_signal_handlers()
    try:
        stats = daemon.run(arm_at_start=True)
    finally:
        daemon.restore_signal_handlers()
    assert stats.ticks == len(seen) and seen[-1] == pytest.approx(1.0)
    assert devices.relay.changes[-1] == (pytest.approx(1.0), False)
    assert devices.relay.is_closed and devices.imu.is_closed
    assert signal.getsignal(signal.SIGTERM) is not None


def test_sigusr1_asks_for_a_reset():
    daemon, devices, _ = make()

    def on_tick(verdict, core):
        if verdict.t_s == pytest.approx(0.5):
            os.kill(os.getpid(), signal.SIGUSR1)

    daemon.on_tick = on_tick
    daemon.install_signal_handlers()
    try:
        stats = daemon.run(until_s=1.0)
    finally:
        daemon.restore_signal_handlers()
    assert stats.last.state is LatchState.ARMED
    assert devices.relay.changes[0][0] == pytest.approx(0.51)


def test_an_error_in_the_loop_releases_the_relay_first():
    daemon, devices, _ = make()

    def on_tick(verdict, core):
        if verdict.t_s > 1.0:
            raise ZeroDivisionError("a bug")

    daemon.on_tick = on_tick
    with pytest.raises(ZeroDivisionError):
        daemon.run(arm_at_start=True)
    assert not devices.relay.is_energized and devices.relay.is_closed and devices.imu.is_closed


def test_closing_goes_on_when_a_device_fails_to_close():
    daemon, devices, _ = make()

    def bad_close():
        raise OSError("already gone")

    devices.imu.close = bad_close
    daemon.run(until_s=0.5, arm_at_start=True)
    assert devices.relay.is_closed and not devices.relay.is_energized


def test_a_closed_fake_relay_refuses_to_energize():
    relay = FakeRelay(lambda: 0.0)
    relay.close()
    relay.close()  # twice is fine
    with pytest.raises(OSError):
        relay.energize()


def _interrupt_at(imu, t_s, clock, error):
    read = imu.read

    def read_or_raise():
        if clock.now() >= t_s:
            raise error
        return read()
    imu.read = read_or_raise


def test_a_ctrl_c_inside_a_read_still_stops_a_loop_that_does_not_handle_signals_itself():
    # a replay, a test: no handlers of the loop's own, so a KeyboardInterrupt may be a person's Ctrl-C
    daemon, devices, clock = make()
    _interrupt_at(devices.imu, 1.0, clock, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        daemon.run(until_s=3.0, arm_at_start=True)
    assert not devices.relay.is_energized and devices.relay.is_closed


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3), GeneratorExit()])
def test_a_base_exception_inside_a_read_is_a_latched_sensor_fault_while_the_loop_handles_signals(error):
    daemon, devices, clock = make()
    _interrupt_at(devices.imu, 1.0, clock, error)
    said = []
    daemon.say = said.append
    daemon.install_signal_handlers()  # as the service does: a real Ctrl-C calls stop(), it never raises
    try:
        stats = daemon.run(until_s=3.0, arm_at_start=True)
    finally:
        daemon.restore_signal_handlers()
    trip = stats.first_trip.trip
    assert (trip.reason, trip.detail) == ("sensor_fault", "imu_driver_failed")
    assert 1.0 <= stats.first_trip.t_s <= 1.02 and stats.ticks >= 299  # it ran on, tripped, to the end
    assert said == [said[0]] and f"read() raised {type(error).__name__}" in said[0]
    assert devices.relay.changes[-1][1] is False
