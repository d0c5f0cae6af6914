"""A relay whose monitoring contact disagrees with the command is a sensor fault:
the core trips on it (relay_feedback), and the daemon asks the relay every tick."""

from __future__ import annotations

import pytest

from drivers.fake import FakeImu, FakeRelay
from drivers.gpio_relay import GpioRelay
from drivers.interfaces import Relay
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices
from tests.drivers_support import clocked_factory
from tests.support import IDENTITY_MOUNT, Driver, standing


def test_a_relay_feedback_failure_trips_the_core_with_its_own_detail():
    d = Driver()
    d.imu(standing(0.0, 1.0))
    d.arm(0.5)
    assert d.tick(0.5078125).state is LatchState.ARMED
    d.core.relay_feedback_failed(0.515625)
    verdict = d.tick(0.515625)
    assert verdict.is_new_trip and not verdict.is_relay_energized
    assert verdict.trip.reason == "sensor_fault" and verdict.trip.detail == "relay_feedback"
    assert verdict.trip.problems[0].t_s == 0.515625


def test_a_relay_without_a_monitoring_contact_always_agrees():
    assert FakeRelay(SimulatedClock()).is_feedback_ok
    assert Relay.is_feedback_ok.fget(FakeRelay(SimulatedClock())) is True


def _daemon(relay, clock):
    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=False, has_range=False)
    return Daemon(core, Devices(imu=FakeImu(clock, standing(0.0, 5.0, 200.0)), relay=relay), clock)


def test_a_welded_relay_cannot_be_armed_and_says_why():
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    relay = GpioRelay(17, clock, feedback_pin=22, pin_factory=factory)
    factory.pin(22).drive_high()  # released, yet the normally-closed monitoring contact is open: welded
    daemon = _daemon(relay, clock)
    daemon.on_tick = lambda verdict, core: core.request_reset() if verdict.t_s == 0.5 else None
    stats = daemon.run(until_s=1.0)
    assert stats.last.state is LatchState.TRIPPED  # the reset was refused, and says why
    assert stats.last.trip.detail == "relay_feedback"
    assert not any(s.state for s in factory.pin(17).states)  # never energized


def test_a_relay_that_stops_following_trips_after_its_settle_time():
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    relay = GpioRelay(17, clock, feedback_pin=22, feedback_settle_s=0.05, pin_factory=factory)
    contact, coil = factory.pin(22), factory.pin(17)
    daemon = _daemon(relay, clock)

    def contact_follows_until_2_s(verdict, core):
        if verdict.t_s < 2.0:  # a healthy force-guided relay: the contact opens while energized
            contact.drive_high() if coil.state else contact.drive_low()
        else:
            contact.drive_low()  # then it drops closed while the relay is commanded on: a dead coil, a cut wire

    contact.drive_low()
    daemon.on_tick = contact_follows_until_2_s
    stats = daemon.run(until_s=3.0, arm_at_start=True)
    trip = stats.first_trip
    assert trip is not None and trip.trip.detail == "relay_feedback"
    # long after the last command change, a disagreement is a fault at once: the next tick
    assert trip.t_s == pytest.approx(2.01)
    assert not coil.state


class UnreadableFeedback(FakeRelay):
    @property
    def is_feedback_ok(self) -> bool:
        raise OSError("the feedback pin cannot be read")


def test_a_feedback_contact_that_cannot_be_read_cannot_vouch_for_the_relay():
    clock = SimulatedClock(0.0)
    stats = _daemon(UnreadableFeedback(clock), clock).run(until_s=0.5, arm_at_start=True)
    assert stats.first_trip.trip.detail == "relay_feedback"
