"""The code that opens the relay: the lease's length, the watchdog's thread and counters, and the
relay driver built from the config (real GpioRelay on gpiozero's MockFactory).

No sleeping: the watchdog is stepped on the test's clock, except where the real thread
itself is the subject, and there the test waits on an event, bounded and never timed.
"""

from __future__ import annotations

import threading

import pytest

from drivers import gpio_backend
from drivers.fake import FakeRelay
from drivers.gpio_relay import GpioRelay
from monitor.config.schema import RelayConfig
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.deadline import DeadlineRelay, Expiry, lease_for
from tests.drivers_support import clocked_factory

RELAY_PIN, FEEDBACK_PIN = 17, 22


@pytest.mark.parametrize("rate_hz,ticks,lease_s", [(100.0, 4, 0.04), (50.0, 3, 0.06), (200.0, 2, 0.01)])
def test_the_lease_is_deadline_ticks_loop_periods(rate_hz, ticks, lease_s):
    assert lease_for(rate_hz, ticks) == pytest.approx(lease_s)


def test_the_watchdog_looks_eight_times_per_lease_unless_told():
    assert DeadlineRelay(FakeRelay(lambda: 0.0), 0.04, threaded=False).poll_s == pytest.approx(0.005)
    assert DeadlineRelay(FakeRelay(lambda: 0.0), 0.04, poll_s=0.02, threaded=False).poll_s == 0.02


def test_an_expiry_says_when_the_lease_was_renewed_and_when_the_relay_was_released():
    clock = SimulatedClock(5.0)
    permit = DeadlineRelay(FakeRelay(clock), 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    clock.t_s = 5.25
    assert permit.check()
    assert permit.take_expiry() == Expiry(5.0, 5.25, 0.04)
    assert permit.expiries == 1 and permit.checks == 1
    assert not permit.check() and permit.checks == 2 and permit.expiries == 1  # released once, counted once


def test_rearming_clears_the_expiry_flag():
    clock = SimulatedClock(0.0)
    permit = DeadlineRelay(FakeRelay(clock), 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    clock.advance(1.0)
    permit.check()
    assert permit.is_expired is True
    permit.rearm()
    assert permit.is_expired is False


def test_a_closed_permit_has_nothing_to_enforce_and_releases_the_relay():
    clock = SimulatedClock(0.0)
    relay = FakeRelay(clock)
    permit = DeadlineRelay(relay, 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    permit.close()
    assert not relay.is_energized and relay.is_closed
    clock.advance(1.0)
    assert permit.check() is False and permit.take_expiry() is None


def test_a_permit_stepped_by_its_holder_starts_no_thread():
    permit = DeadlineRelay(FakeRelay(lambda: 0.0), 0.04, threaded=False)
    before = {t.ident for t in threading.enumerate()}
    permit.start_watchdog()
    assert {t.ident for t in threading.enumerate()} == before
    permit.close()


def test_the_watchdog_runs_in_one_named_daemon_thread_that_never_keeps_the_process_alive():
    permit = DeadlineRelay(FakeRelay(lambda: 0.0), 0.04)
    permit.start_watchdog()
    try:
        permit.start_watchdog()  # a second start adds nothing
        watchers = [t for t in threading.enumerate() if t.name == "run-permit"]
        assert len(watchers) == 1 and watchers[0].daemon
    finally:
        permit.close()
    assert not [t for t in threading.enumerate() if t.name == "run-permit" and t.is_alive()]


def test_the_watchdog_counts_every_release_that_raised_and_keeps_trying():
    """A relay that raises on release: the thread counts each failure and tries again at the
    next poll. The test waits (at most 5 s) for the third try, then compares the counts."""
    third_try = threading.Event()

    class StuckRelay(FakeRelay):
        tries = 0

        def release(self):
            StuckRelay.tries += 1
            if StuckRelay.tries >= 3:
                third_try.set()
            raise OSError("pin gone")

    relay = StuckRelay(lambda: 0.0)
    permit = DeadlineRelay(relay, 0.001, poll_s=0.001)
    permit.energize()
    permit.renew()
    permit.start_watchdog()
    try:
        assert third_try.wait(5.0)
    finally:
        permit.stop_watchdog()
    assert permit.failures == StuckRelay.tries >= 3


# -- the relay driver, as the config builds it -------------------------------------------------------

@pytest.fixture
def clock():
    return SimulatedClock(100.0)


@pytest.fixture
def factory(clock):
    f = clocked_factory(clock)
    yield f
    f.reset()


def test_the_relay_built_from_the_config_takes_every_setting(clock, factory):
    section = RelayConfig(pin=RELAY_PIN, active_high=False, feedback_pin=FEEDBACK_PIN,
                          feedback_closed_when_energized=True, feedback_settle_s=0.2)
    relay = GpioRelay.from_config(section, clock, pin_factory=factory)
    pin, contact = factory.pin(RELAY_PIN), factory.pin(FEEDBACK_PIN)
    try:
        assert pin.state is True and not relay.is_energized  # active low: released is high
        contact.drive_high()  # a normally-open contact, open: agrees with released
        assert relay.is_feedback_ok
        relay.energize()
        assert pin.state is False and relay.is_energized
        clock.advance(0.19)
        assert relay.is_feedback_ok  # the contact has 0.2 s to follow
        clock.advance(0.02)
        assert not relay.is_feedback_ok
        contact.drive_low()  # closed when energized, as configured
        assert relay.is_feedback_ok
    finally:
        relay.close()


def test_the_relay_built_from_the_config_uses_the_real_gpio_backend_unless_given_one(clock, factory, monkeypatch):
    monkeypatch.setattr(gpio_backend, "real_pin_factory", lambda: factory)
    relay = GpioRelay.from_config(RelayConfig(pin=RELAY_PIN), clock)
    try:
        relay.energize()
        assert factory.pin(RELAY_PIN).state is True
    finally:
        relay.close()


def test_a_new_permit_has_nothing_to_enforce_and_has_counted_nothing():
    clock = SimulatedClock(3.0)
    permit = DeadlineRelay(FakeRelay(clock), 0.04, clock=clock, threaded=False)
    assert (permit.failures, permit.checks, permit.expiries, permit.is_expired) == (0, 0, 0, False)
    clock.advance(10.0)
    assert permit.check() is False and permit.take_expiry() is None and permit.expiries == 0


def test_after_a_rearm_only_a_new_renewal_can_expire_again_and_each_expiry_counts():
    clock = SimulatedClock(0.0)
    relay = FakeRelay(clock)
    permit = DeadlineRelay(relay, 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    clock.advance(1.0)
    assert permit.check()
    permit.rearm()
    clock.advance(1.0)
    assert permit.check() is False  # nothing renewed since: nothing to expire
    permit.energize()
    permit.renew()
    clock.advance(1.0)
    assert permit.check() and permit.expiries == 2 and not relay.is_energized
    assert permit.take_expiry() == Expiry(2.0, 3.0, 0.04)


@pytest.mark.parametrize("active_high,pull", [(True, "down"), (False, "up")])
def test_the_relay_pin_is_pulled_to_released_and_starts_released(clock, factory, active_high, pull):
    relay = GpioRelay(RELAY_PIN, clock, active_high=active_high, pin_factory=factory)
    try:
        pin = factory.pin(RELAY_PIN)
        assert pin.pull == pull and pin.state is (not active_high)
        assert relay.is_energized is False
        relay.energize()
        relay.release()
        assert relay.is_energized is False
    finally:
        relay.close()


def test_a_wrong_drive_or_an_active_low_charge_pump_is_refused_in_words(clock, factory):
    with pytest.raises(ValueError) as err:
        GpioRelay(RELAY_PIN, clock, drive="pwm", pin_factory=factory)
    assert str(err.value) == "drive must be one of level, charge_pump, not 'pwm'"
    with pytest.raises(ValueError) as err:
        GpioRelay(RELAY_PIN, clock, drive="charge_pump", active_high=False, pin_factory=factory)
    assert str(err.value) == ("the charge-pump drive holds the pin low when released (the circuit's input "
                              "has a pull-down): it needs active_high = true")


def test_a_contact_that_disagrees_from_the_start_is_judged_from_the_start(clock, factory):
    relay = GpioRelay(RELAY_PIN, clock, feedback_pin=FEEDBACK_PIN, feedback_settle_s=0.05, pin_factory=factory)
    try:
        factory.pin(FEEDBACK_PIN).drive_high()  # released, but the normally-closed contact reads open
        clock.advance(0.04)
        assert relay.is_feedback_ok
        clock.advance(0.02)
        assert not relay.is_feedback_ok
    finally:
        relay.close()


def test_gpio_0_can_carry_the_monitoring_contact(clock, factory):
    relay = GpioRelay(RELAY_PIN, clock, feedback_pin=0, pin_factory=factory)
    try:
        assert relay.has_feedback
    finally:
        relay.close()


def test_a_pin_that_failed_is_never_driven_again_and_says_so(clock, factory):
    relay = GpioRelay(RELAY_PIN, clock, pin_factory=factory)

    def broken(value):
        raise RuntimeError("pin gone")

    relay._output.pin._set_state = broken  # the hardware fails under the driver
    with pytest.raises(OSError) as err:
        relay.energize()
    assert str(err.value) == "the relay pin could not be driven (RuntimeError: pin gone); released"
    with pytest.raises(OSError) as err:
        relay.energize()
    assert str(err.value) == "the relay is closed"
    relay.close()


def test_closing_frees_both_pins_for_the_next_start(clock, factory):
    relay = GpioRelay(RELAY_PIN, clock, feedback_pin=FEEDBACK_PIN, pin_factory=factory)
    relay.close()
    again = GpioRelay(RELAY_PIN, clock, feedback_pin=FEEDBACK_PIN, pin_factory=factory)
    again.close()
    with pytest.raises(OSError) as err:
        relay.energize()
    assert str(err.value) == "the relay is closed"
