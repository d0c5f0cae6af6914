"""What `check`, `calibrate` and `record` share: opening one device at a time, asking
the person at the treadmill, and measuring for a while on an injected clock.

Every wait goes through the clock's `sleep_until`, so the tests run these commands
on a simulated clock with no sleeping. Every answer goes through an `ask` callable
(`input` by default), so the tests script the person.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from drivers.interfaces import HealthEvent, ImuSample
from monitor.config.schema import Config

Ask = Callable[[str], str]
STEP_S = 0.02  # how often a measurement reads its device
STANDARD_GRAVITY_MPS2 = 9.80665


class CommandClock(Protocol):
    """The monitor clock: callable for the drivers, now/sleep_until for the waits."""

    def __call__(self) -> float: ...
    def now(self) -> float: ...
    def sleep_until(self, t_s: float) -> None: ...


class NoAnswer(Exception):
    """Standard input closed before the person answered."""


def asker(ask: Ask) -> Ask:
    """`ask`, with end of input turned into NoAnswer (a command run without a terminal)."""
    def wrapped(prompt: str) -> str:
        try:
            return ask(prompt)
        except EOFError:
            raise NoAnswer("no answer on standard input: run this command from a terminal, "
                           "at the treadmill") from None
    return wrapped


def is_yes(answer: str) -> bool:
    return answer.strip().lower() in ("y", "yes")


# -- opening one device --------------------------------------------------------------------
class DeviceUnavailable(Exception):
    """A device could not be opened; the message says what to check."""


def open_one(config: Config, section: str, clock: CommandClock, *, i2c_bus: Any = None,
             gpio: "GpioFactory | None" = None) -> Any:
    """Open the device of one config section by itself (check and calibrate look at
    each device on its own, so one missing device does not hide the others)."""
    from monitor.service.sessions.hardware import HardwareError, _driver_class

    settings = getattr(config, section)
    try:
        cls = _driver_class(section, settings.driver)
    except HardwareError as err:
        raise DeviceUnavailable(str(err)) from None
    try:
        if section == "imu":
            return cls.from_config(settings, clock, **({} if i2c_bus is None else {"bus": i2c_bus}))
        assert gpio is not None
        return cls.from_config(settings, clock, pin_factory=gpio.get())
    except DeviceUnavailable:
        raise
    except OSError as err:  # the drivers' errors say what to check
        raise DeviceUnavailable(str(err)) from None
    except Exception as err:
        raise DeviceUnavailable(f"could not be opened: {type(err).__name__}: {err}") from None


class GpioFactory:
    """The one gpiozero pin factory of a command: the injected one, or the real lgpio
    factory opened on first use (with gpiozero's silent fallback forbidden)."""

    def __init__(self, pin_factory: Any = None) -> None:
        self._factory = pin_factory
        self._error: str | None = None

    def get(self) -> Any:
        if self._factory is None:
            if self._error is not None:
                raise DeviceUnavailable(self._error)
            from drivers.gpio_backend import GpioBackendError, forbid_fallback, real_pin_factory
            try:
                forbid_fallback()
                self._factory = real_pin_factory()
            except GpioBackendError as err:
                self._error = str(err)
                raise DeviceUnavailable(self._error) from None
        return self._factory


def close_quietly(device: Any) -> None:
    if device is not None:
        try:
            device.close()
        except Exception:
            pass


# -- measuring -----------------------------------------------------------------------------
@dataclass
class ImuRecording:
    """What an IMU delivered over a while."""

    samples: list[ImuSample] = field(default_factory=list)
    health: list[HealthEvent] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def rate_hz(self) -> float:
        return len(self.samples) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def mean(self, first: int, last: int) -> tuple[float, float, float]:
        n = len(self.samples)
        return tuple(math.fsum(s[k] for s in self.samples) / n for k in range(first, last))  # type: ignore[return-value]

    @property
    def accel_mean_mps2(self) -> tuple[float, float, float]:
        return self.mean(1, 4)

    @property
    def gyro_mean_radps(self) -> tuple[float, float, float]:
        return self.mean(4, 7)

    @property
    def accel_spread_mps2(self) -> float:
        """The largest standard deviation of the three accelerometer axes: how still it was."""
        if len(self.samples) < 2:
            return 0.0
        return max(statistics.pstdev(s[k] for s in self.samples) for k in range(1, 4))

    @property
    def gyro_spread_radps(self) -> float:
        """The largest standard deviation of the three gyro axes: how still it was."""
        if len(self.samples) < 2:
            return 0.0
        return max(statistics.pstdev(s[k] for s in self.samples) for k in range(4, 7))


def norm(v: tuple[float, ...]) -> float:
    return math.sqrt(math.fsum(x * x for x in v))


def record_imu(imu: Any, clock: CommandClock, seconds: float, *, settle_s: float = 0.1) -> ImuRecording:
    """Everything the IMU delivers for `seconds`, after `settle_s` whose samples are dropped
    (what queued up while the chip started, or while the person got still)."""
    start_s = clock.now()
    clock.sleep_until(start_s + settle_s)
    imu.read()
    recording = ImuRecording()
    begin_s = clock.now()
    k = 0
    while clock.now() - begin_s < seconds - 1e-9:
        k += 1
        clock.sleep_until(begin_s + k * STEP_S)
        batch = imu.read()
        recording.samples.extend(batch.samples)
        recording.health.extend(batch.health)
    recording.elapsed_s = clock.now() - begin_s
    return recording


def wait_reading(clock: CommandClock, seconds: float, read: Callable[[], Any]) -> list[Any]:
    """Call `read` every STEP_S for `seconds`; the non-None results, in order."""
    begin_s = clock.now()
    found = []
    k = 0
    while clock.now() - begin_s < seconds - 1e-9:
        k += 1
        clock.sleep_until(begin_s + k * STEP_S)
        value = read()
        if value is not None:
            found.append(value)
    return found


def describe_health(events: list[HealthEvent]) -> str:
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    first = events[0].detail if events else ""
    return ", ".join(f"{n} {kind}" for kind, n in kinds.items()) + (f" (first: {first})" if first else "")
