"""Test support for the real drivers: gpiozero mock pins on the test's clock, pulse trains.

gpiozero's MockPin stamps its edges with time.monotonic(); ClockedMockPin stamps
them with the test's clock instead, so the edge timestamps a driver receives (the
`ticks` of `when_changed`) are exactly the times a test drives the pin at, with
no sleeping and no wall-clock time.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory, MockPin, PinState

from monitor.service.loop.clock import SimulatedClock


class ClockedMockPin(MockPin):
    """A MockPin whose edges happen at the factory's test clock time, and which keeps every
    (function, level) it went through in `timeline`, so a test can see what it drove."""

    def _now(self) -> float:
        return self._factory.test_clock()

    def clear_states(self):
        self._last_change = self._now() if hasattr(self._factory, "test_clock") else 0.0
        self.states = [PinState(0.0, self._state)]
        self.timeline = [(self._function, self._state)]

    def _note(self):
        entry = (self._function, self._state)
        if self.timeline[-1] != entry:
            self.timeline.append(entry)

    def _set_function(self, value):
        super()._set_function(value)
        self._note()

    def _change_state(self, value):
        if self._state != value:
            t = self._now()
            self._state = value
            self.states.append(PinState(t - self._last_change, value))
            self._last_change = t
            self._note()
            return True
        return False


def clocked_factory(clock: SimulatedClock) -> MockFactory:
    factory = MockFactory(pin_class=ClockedMockPin)
    factory.test_clock = clock
    return factory


def pulse(pin: MockPin, clock: SimulatedClock, t_s: float, width_s: float = 0.004) -> None:
    """One pulse from the sensor: pulled low at t_s for width_s, then released (high)."""
    clock.t_s = t_s
    pin.drive_low()
    clock.t_s = t_s + width_s
    pin.drive_high()


def pulse_times(speed_of_t, t0_s: float, t1_s: float, pulses_per_m: float) -> list[float]:
    """Pulse times for a belt whose speed (m/s) is speed_of_t(t), integrated in 0.1 ms steps."""
    times, travelled_m, t, dt = [], 0.0, t0_s, 1e-4
    spacing_m = 1.0 / pulses_per_m
    next_m = spacing_m
    while t < t1_s:
        travelled_m += speed_of_t(t) * dt
        t += dt
        if travelled_m >= next_m:
            times.append(t)
            next_m += spacing_m
    return times


class FakeLgpio:
    """The few lgpio calls gpiozero's lgpio pins make, as a module to put in sys.modules['lgpio'].

    It keeps what each line did, in order: `lines[gpio]` is a list of (mode, level) with
    mode "input" or "output", so a test can see every level a line was driven at."""

    SET_PULL_NONE, SET_PULL_UP, SET_PULL_DOWN = 0, 1, 2
    SET_BIAS_DISABLE, SET_BIAS_PULL_UP, SET_BIAS_PULL_DOWN = 0, 1, 2
    BOTH_EDGES, RISING_EDGE, FALLING_EDGE = 3, 1, 2

    class error(Exception):
        pass

    def __init__(self) -> None:
        self.lines: dict[int, list[tuple[str, int]]] = {}
        self._mode: dict[int, str] = {}
        self._level: dict[int, int] = {}

    def _log(self, gpio: int) -> None:
        self.lines.setdefault(gpio, []).append((self._mode[gpio], self._level.get(gpio, 0)))

    def gpiochip_open(self, chip: int) -> int:
        return 7

    def gpiochip_close(self, handle: int) -> None:
        pass

    def gpio_claim_input(self, handle: int, gpio: int, flags: int = 0) -> None:
        self._mode[gpio] = "input"
        self._log(gpio)

    def gpio_claim_output(self, handle: int, gpio: int, level: int = 0, flags: int = 0) -> None:
        # The kernel line request carries the level: the line comes up driving it.
        self._mode[gpio], self._level[gpio] = "output", int(level)
        self._log(gpio)

    def gpio_write(self, handle: int, gpio: int, level: int) -> None:
        if self._mode.get(gpio) != "output":
            raise self.error("GPIO not allocated for output")
        self._level[gpio] = int(level)
        self._log(gpio)

    def gpio_read(self, handle: int, gpio: int) -> int:
        return self._level.get(gpio, 0)

    def gpio_get_mode(self, handle: int, gpio: int) -> int:
        return 2 if self._mode.get(gpio) == "output" else 0  # LGPIOPin.GPIO_IS_OUT

    def gpio_free(self, handle: int, gpio: int) -> None:
        self._mode[gpio] = "input"
        self._log(gpio)

    def tx_pwm(self, *args) -> None:
        raise self.error("no PWM in the fake")


def run_imu(clock: SimulatedClock, imu, seconds: float, step_s: float = 0.01):
    """The loop reading an IMU every step_s for `seconds`: every sample and health event it got."""
    samples, health = [], []
    for _ in range(round(seconds / step_s)):
        clock.advance(step_s)
        batch = imu.read()
        samples += batch.samples
        health += batch.health
    return samples, health
