"""The driver interfaces: what the daemon loop may ask of each kind of device.

Every value crossing these interfaces is in SI units with the unit in its name,
and every sample carries the time it was taken, in seconds on the monitor's
clock. Drivers never decide anything about safety: they report what they read,
and report trouble (a failed read, a lost sample) as health events instead of
raising through the loop, so the core can decide.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import NamedTuple


class ImuSample(NamedTuple):
    """One accelerometer + gyroscope sample in the sensor's own frame."""

    t_s: float
    ax_mps2: float
    ay_mps2: float
    az_mps2: float
    gx_radps: float
    gy_radps: float
    gz_radps: float


class HealthEvent(NamedTuple):
    """Something a driver noticed that the core must judge.

    kind is one of:
      "read_failed"  a read attempt failed (I2C error, empty trace cell)
      "overflow"     the device lost samples (FIFO overflow)
      "device_reset" the device reset itself and lost its configuration
    """

    t_s: float
    kind: str
    detail: str = ""


READ_FAILED = "read_failed"
OVERFLOW = "overflow"
DEVICE_RESET = "device_reset"
HEALTH_KINDS = (READ_FAILED, OVERFLOW, DEVICE_RESET)


@dataclass
class ImuBatch:
    """What one IMU read hands over: the samples since the last read, oldest
    first, and any health events seen while reading them."""

    samples: list[ImuSample] = field(default_factory=list)
    health: list[HealthEvent] = field(default_factory=list)


class BeltReading(NamedTuple):
    """Belt surface speed as the pulse sensor measured it (0.0 = stopped)."""

    t_s: float
    speed_mps: float


class RangeReading(NamedTuple):
    """Distance from the range sensor at the console to the walker."""

    t_s: float
    distance_m: float


class Imu(abc.ABC):
    """An IMU on the walker's waist clip."""

    @abc.abstractmethod
    def read(self) -> ImuBatch:
        """Every sample taken since the previous call. Never raises for a
        failed bus read: reports it as a health event instead."""
        raise NotImplementedError  # abstract

    def close(self) -> None:
        """Release the device. Safe to call twice."""


class BeltSensor(abc.ABC):
    """The belt-speed pulse sensor on the front roller."""

    @abc.abstractmethod
    def read(self) -> BeltReading | None:
        """The newest reading since the previous call, or None if there is
        none yet. Raises OSError when the sensor cannot be read."""
        raise NotImplementedError  # abstract

    def close(self) -> None:
        """Release the device. Safe to call twice."""


class RangeSensor(abc.ABC):
    """The optional range sensor measuring the walker's distance from the console."""

    @abc.abstractmethod
    def read(self) -> RangeReading | None:
        """The newest reading since the previous call, or None if there is
        none yet. Raises OSError when the sensor cannot be read."""
        raise NotImplementedError  # abstract

    def close(self) -> None:
        """Release the device. Safe to call twice."""


class Relay(abc.ABC):
    """The relay in series with the treadmill's safety-key loop.

    Energized = contacts closed = the belt may run. Released = the loop is open,
    exactly as if the safety key were pulled. A new relay starts released.
    """

    @abc.abstractmethod
    def energize(self) -> None:
        """Close the contacts: the treadmill may run. The loop calls it on every tick that
        may run; a charge-pump drive keeps the contacts closed only while these calls go on."""
        raise NotImplementedError  # abstract

    @abc.abstractmethod
    def release(self) -> None:
        """Open the contacts: the treadmill stops. Must never raise."""
        raise NotImplementedError  # abstract

    @property
    @abc.abstractmethod
    def is_energized(self) -> bool:
        """True while the contacts are commanded closed."""
        raise NotImplementedError  # abstract

    @property
    def is_feedback_ok(self) -> bool:
        """False when the monitoring contact disagrees with the command (beyond the
        relay's operate/release time): a welded contact, a dead coil, a cut wire.
        True for a relay without a monitoring contact."""
        return True

    def close(self) -> None:
        """Release the relay and the device. Safe to call twice."""
        self.release()
