"""The real GPIO drivers (belt pulses, relay, HC-SR04) on gpiozero's MockFactory, and the loud backend."""

from __future__ import annotations

import sys

import pytest

from drivers import gpio_backend
from drivers.gpio_relay import GpioRelay
from drivers.hcsr04 import HcSr04
from drivers.pulse_belt import PulseBeltSensor
from monitor.service.loop.clock import SimulatedClock
from tests.drivers_support import clocked_factory, pulse, pulse_times

PPM = 10.0  # pulses per metre in these tests
BELT_PIN, RELAY_PIN, FEEDBACK_PIN = 27, 17, 22


@pytest.fixture
def clock():
    return SimulatedClock(100.0)


@pytest.fixture
def factory(clock):
    f = clocked_factory(clock)
    yield f
    f.reset()


def _belt(clock, factory, **kwargs):
    args = dict(pulses_per_m=PPM, debounce_s=0.002, stopped_s=1.0, max_accel_mps2=10.0)
    args.update(kwargs)
    sensor = PulseBeltSensor(BELT_PIN, clock, pin_factory=factory, **args)
    return sensor, factory.pin(BELT_PIN)


def _play(sensor, pin, clock, times, *, read_every_s=0.01, until_s=None):
    """Drive the pulses and read like the loop does; [(t_s, speed or None)] per read."""
    readings = []
    next_read = clock.t_s + read_every_s
    end = until_s if until_s is not None else times[-1] + 0.001
    for t in times + [end]:
        while next_read < t:
            clock.t_s = next_read
            r = sensor.read()
            readings.append((next_read, None if r is None else r.speed_mps))
            next_read += read_every_s
        if t is not end:
            pulse(pin, clock, t)
    return readings


# -- belt -------------------------------------------------------------------------------------------
def test_a_belt_that_never_moved_reads_zero(clock, factory):
    sensor, pin = _belt(clock, factory)
    reading = sensor.read()
    assert reading.speed_mps == 0.0 and reading.t_s == clock.t_s


def test_a_steady_belt_reads_its_speed(clock, factory):
    sensor, pin = _belt(clock, factory)
    times = [100.0 + i / (PPM * 1.5) for i in range(30)]  # 1.5 m/s
    readings = _play(sensor, pin, clock, times)
    assert readings[-1][1] == pytest.approx(1.5, rel=1e-3)
    assert sensor.implausible_pulses == 0 and sensor.pulses == 30


def test_an_accelerating_belt_is_followed(clock, factory):
    sensor, pin = _belt(clock, factory)
    times = pulse_times(lambda t: 0.5 + 1.0 * (t - 100.0), 100.0, 103.0, PPM)  # 0.5 -> 3.5 m/s at 1 m/s2
    readings = _play(sensor, pin, clock, times)
    assert sensor.implausible_pulses == 0
    assert readings[-1][1] == pytest.approx(3.5, abs=0.1)
    speeds = [s for _, s in readings[100:] if s is not None]
    assert all(b >= a - 0.05 for a, b in zip(speeds, speeds[1:]))


def test_a_stopping_belt_reads_lower_before_the_next_pulse_and_zero_after_stopped_s(clock, factory):
    sensor, pin = _belt(clock, factory, stopped_s=0.8)
    times = [100.0 + i / (PPM * 2.0) for i in range(20)]  # 2 m/s, then nothing
    _play(sensor, pin, clock, times)
    last = times[-1]
    clock.t_s = last + 0.2  # no pulse for 0.2 s: the belt cannot be faster than one spacing in 0.2 s
    assert sensor.read().speed_mps == pytest.approx(1 / (PPM * 0.2))
    clock.t_s = last + 0.81
    reading = sensor.read()
    assert reading.speed_mps == 0.0 and reading.t_s == clock.t_s


def test_contact_bounce_is_ignored(clock, factory):
    sensor, pin = _belt(clock, factory)
    for i in range(20):
        t = 100.0 + i * 0.1  # 1 m/s
        pulse(pin, clock, t, width_s=0.0005)  # each pulse bounces twice
        pulse(pin, clock, t + 0.001, width_s=0.0005)
        pulse(pin, clock, t + 0.0025, width_s=0.004)
    clock.t_s = 102.0
    assert sensor.read().speed_mps == pytest.approx(1.0, rel=0.02)
    assert sensor.bounces >= 20 * 3 and sensor.implausible_pulses == 0


def test_a_noise_pulse_is_dropped_as_implausible_and_reported_as_no_reading(clock, factory):
    sensor, pin = _belt(clock, factory)
    times = [100.0 + i * 0.1 for i in range(20)]  # 1 m/s
    _play(sensor, pin, clock, times)
    pulse(pin, clock, times[-1] + 0.03)  # a spike 30 ms after a pulse: "3.3 m/s"
    clock.t_s = times[-1] + 0.05
    assert sensor.read() is None
    assert sensor.implausible_pulses == 1
    pulse(pin, clock, times[-1] + 0.1)  # the next real pulse, timed from the last good one
    clock.t_s = times[-1] + 0.105
    assert sensor.read().speed_mps == pytest.approx(1.0)


def test_a_real_speed_change_is_believed_after_three_intervals(clock, factory):
    sensor, pin = _belt(clock, factory, max_accel_mps2=1.0)
    times = [100.0 + i * 0.1 for i in range(10)]  # 1 m/s
    times += [times[-1] + (i + 1) * 0.04 for i in range(6)]  # suddenly 2.5 m/s
    readings = _play(sensor, pin, clock, times)
    assert sensor.implausible_pulses == 3  # the third one is believed
    assert readings[-1][1] == pytest.approx(2.5)


def test_a_closed_belt_sensor_raises_and_closing_twice_is_safe(clock, factory):
    sensor, _ = _belt(clock, factory)
    sensor.close()
    sensor.close()
    with pytest.raises(OSError):
        sensor.read()


# -- relay ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("active_high", [True, False])
def test_the_relay_starts_released_and_follows_commands_at_the_right_level(clock, factory, active_high):
    relay = GpioRelay(RELAY_PIN, clock, active_high=active_high, pin_factory=factory)
    pin = factory.pin(RELAY_PIN)
    released_level = not active_high
    assert pin.state == released_level and not relay.is_energized
    relay.energize()
    assert pin.state == active_high and relay.is_energized
    relay.release()
    assert pin.state == released_level
    relay.energize()
    relay.close()
    assert pin.state == released_level  # released before the pin was let go
    assert [s.state for s in pin.states][-2:] == [active_high, released_level]
    relay.close()  # safe twice
    with pytest.raises(OSError):
        relay.energize()


def test_a_relay_pin_that_cannot_be_driven_is_let_go_and_the_error_named(clock, factory):
    relay = GpioRelay(RELAY_PIN, clock, pin_factory=factory)
    pin = factory.pin(RELAY_PIN)

    def broken(value):
        raise RuntimeError("pin gone")

    relay._output.pin._set_state = broken  # the hardware fails under the driver
    with pytest.raises(OSError, match="released"):
        relay.energize()
    assert not relay.is_energized
    assert pin.function == "input"  # let go: the pull-down holds the relay released
    relay.close()


def test_a_relay_that_cannot_be_opened_leaves_nothing_claimed(clock, factory):
    with pytest.raises(Exception):
        GpioRelay(RELAY_PIN, clock, feedback_pin=RELAY_PIN, pin_factory=factory)  # the same pin twice
    relay = GpioRelay(RELAY_PIN, clock, pin_factory=factory)  # the pin is free again
    relay.close()


def _feedback_relay(clock, factory, **kwargs):
    relay = GpioRelay(RELAY_PIN, clock, feedback_pin=FEEDBACK_PIN, feedback_settle_s=0.05,
                      pin_factory=factory, **kwargs)
    return relay, factory.pin(FEEDBACK_PIN)


def test_a_force_guided_contact_that_follows_the_command_is_ok(clock, factory):
    relay, contact = _feedback_relay(clock, factory)  # normally-closed monitoring contact
    contact.drive_low()  # released: the NC contact is closed
    assert relay.is_feedback_ok
    relay.energize()
    clock.advance(0.01)
    assert relay.is_feedback_ok  # still settling
    contact.drive_high()  # the NC contact opened: the main contacts closed
    clock.advance(0.1)
    assert relay.is_feedback_ok
    relay.close()


def test_a_welded_or_dead_relay_is_a_feedback_fault_after_the_settle_time(clock, factory):
    relay, contact = _feedback_relay(clock, factory)
    contact.drive_low()
    relay.energize()  # the coil is dead: the contact stays where it was
    clock.advance(0.049)
    assert relay.is_feedback_ok
    clock.advance(0.002)
    assert not relay.is_feedback_ok
    contact.drive_high()
    relay.release()  # now welded: the contact does not come back
    clock.advance(0.06)
    assert not relay.is_feedback_ok
    relay.close()


def test_a_normally_open_feedback_contact_can_be_configured(clock, factory):
    relay, contact = _feedback_relay(clock, factory, feedback_closed_when_energized=True)
    contact.drive_high()
    relay.energize()
    contact.drive_low()
    clock.advance(0.1)
    assert relay.is_feedback_ok and relay.has_feedback
    relay.close()


def test_without_feedback_there_is_nothing_to_disagree(clock, factory):
    relay = GpioRelay(RELAY_PIN, clock, pin_factory=factory)
    assert relay.is_feedback_ok and not relay.has_feedback and relay.is_feedback_closed is None
    relay.close()


# -- HC-SR04 --------------------------------------------------------------------------------------------
def test_the_hcsr04_hands_over_each_ping_once_with_its_time(clock, factory):
    sensor = HcSr04(23, 24, clock, max_distance_m=3.0, pin_factory=factory)
    try:
        assert sensor.read() is None  # no ping finished yet
        clock.t_s = 100.5
        sensor._on_reading(0.25)  # what a completed ping of 0.75 m reports
        reading = sensor.read()
        assert reading.t_s == 100.5 and reading.distance_m == pytest.approx(0.75)
        assert sensor.read() is None  # not handed over twice: staleness stays visible
        sensor._on_reading(1.0)  # no echo within max_distance reads as max_distance
        assert sensor.read().distance_m == pytest.approx(3.0)
    finally:
        sensor.close()
        sensor.close()
    with pytest.raises(OSError):
        sensor.read()


# -- the backend fails loudly -----------------------------------------------------------------------
def test_a_missing_lgpio_is_an_error_that_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "lgpio", None)
    with pytest.raises(gpio_backend.GpioBackendError, match="sudo apt install python3-lgpio") as error:
        gpio_backend.real_pin_factory()
    assert "pip install lgpio" in str(error.value) and "does not fall back" in str(error.value)


def test_pypis_empty_lgpio_placeholder_is_named_as_such_not_a_traceback(monkeypatch):
    import types

    placeholder = types.ModuleType("lgpio")  # lgpio 0.0.0.2 from PyPI: an empty lgpio.py
    placeholder.__file__ = "/venv/lib/python3.13/site-packages/lgpio.py"
    monkeypatch.setitem(sys.modules, "lgpio", placeholder)
    with pytest.raises(gpio_backend.GpioBackendError, match="empty placeholder, lgpio 0.0.0.2") as error:
        gpio_backend.real_pin_factory()
    assert "python3-lgpio" in str(error.value)


def test_the_pi_gpio_chip_is_found_by_its_label_not_its_number():
    labels = {"/dev/gpiochip0": "pinctrl-rp1", "/dev/gpiochip10": "rp1-gpio-extra",
              "/dev/gpiochip4": "pinctrl-rp1"}
    assert gpio_backend.find_pi_gpio_chip(labels, labels.__getitem__) == 0
    pi5_old_kernel = {"/dev/gpiochip0": "gpio-brcmstb@107d508500", "/dev/gpiochip4": "pinctrl-rp1"}
    assert gpio_backend.find_pi_gpio_chip(pi5_old_kernel, pi5_old_kernel.__getitem__) == 4
    pi4 = {"/dev/gpiochip0": "pinctrl-bcm2711", "/dev/gpiochip1": "raspberrypi-exp-gpio"}
    assert gpio_backend.find_pi_gpio_chip(pi4, pi4.__getitem__) == 0


def test_no_pi_gpio_chip_is_an_error_that_lists_what_was_found():
    labels = {"/dev/gpiochip0": "some-usb-gpio"}
    with pytest.raises(gpio_backend.GpioBackendError, match="some-usb-gpio.*Raspberry Pi"):
        gpio_backend.find_pi_gpio_chip(labels, labels.__getitem__)
    with pytest.raises(gpio_backend.GpioBackendError, match="no /dev/gpiochip"):
        gpio_backend.find_pi_gpio_chip([], labels.__getitem__)


def test_gpiozero_falling_back_by_itself_becomes_an_error():
    import warnings

    from gpiozero.exc import PinFactoryFallback

    with warnings.catch_warnings():
        gpio_backend.forbid_fallback()
        with pytest.raises(PinFactoryFallback):
            warnings.warn(PinFactoryFallback("Falling back from lgpio: no module"))


# -- an active-low relay never blips at start ------------------------------------------------------
@pytest.mark.parametrize("active_high", [True, False])
def test_the_relay_pin_never_drives_the_energizing_level_before_energize_on_mockfactory(clock, factory,
                                                                                        active_high):
    relay = GpioRelay(RELAY_PIN, clock, active_high=active_high, pin_factory=factory)
    pin = factory.pin(RELAY_PIN)
    energizing = active_high
    assert ("output", energizing) not in pin.timeline, f"the relay pulled in at start: {pin.timeline}"
    assert pin.timeline[-1] == ("output", not energizing)
    assert [s.state for s in pin.states][-1] is (not energizing)
    relay.energize()
    assert pin.timeline[-1] == ("output", energizing)
    relay.close()
    assert pin.timeline[-1][0] == "input"

@pytest.fixture
def fake_lgpio(monkeypatch):
    """gpiozero's real lgpio pins over a fake lgpio module, on a Pi 4's header."""
    from tests.drivers_support import FakeLgpio

    lgpio = FakeLgpio()
    monkeypatch.setitem(sys.modules, "lgpio", lgpio)
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)
    from gpiozero.pins.local import LocalPiFactory
    monkeypatch.setattr(LocalPiFactory, "_get_revision", lambda self: 0xC03111)  # a Pi 4 B
    yield lgpio
    sys.modules.pop("gpiozero.pins.lgpio", None)  # imported over the fake: not for later tests


@pytest.mark.parametrize("active_high", [True, False])
def test_the_relay_line_never_drives_the_energizing_level_before_energize_on_lgpio(fake_lgpio, clock, active_high):
    factory = gpio_backend.real_pin_factory(chip=0)
    relay = GpioRelay(RELAY_PIN, clock, active_high=active_high, pin_factory=factory)
    energizing = 1 if active_high else 0
    opened = list(fake_lgpio.lines[RELAY_PIN])
    assert ("output", energizing) not in opened, f"the relay pulled in at start: {opened}"
    assert opened[-1] == ("output", 1 - energizing)
    relay.energize()
    assert fake_lgpio.lines[RELAY_PIN][-1] == ("output", energizing)
    relay.close()
    assert fake_lgpio.lines[RELAY_PIN][-1][0] == "input"  # let go: the pull resistor holds it released
    factory.close()



def test_a_pin_whose_pull_cannot_be_set_still_gives_a_relay_that_starts_released_and_works(clock, factory):
    """GPIO 2 has a fixed pull-up (gpiozero raises PinFixedPull, its own error, when asked for a
    pull-down): the relay is made all the same, released, and it energizes and releases. (An
    active-high relay there is held energized by that pull-up whenever the pin is an input,
    which is why `treadguard check` refuses GPIO 2 and 3 for the relay beside a real IMU.)"""
    relay = GpioRelay(2, clock, active_high=True, pin_factory=factory)
    pin = factory.pin(2)
    assert not relay.is_energized and pin.timeline[-1] == ("output", False)
    relay.energize()
    assert relay.is_energized and pin.timeline[-1] == ("output", True)
    relay.release()
    assert not relay.is_energized and pin.timeline[-1] == ("output", False)
    relay.close()
