"""What the FIFO-reading I2C IMU drivers share: opening from config, a read that
turns bus errors into health events, the periodic check for a chip that reset
itself, and closing.

A chip's driver supplies how to read its FIFO (`_read_fifo`), how to tell that
it lost its configuration (`_check_reset`) and how to power it down
(`_power_down`); everything around those is the same for every chip, so it
lives here once.
"""

from __future__ import annotations

import abc
import time
from typing import Any, Callable, Sequence

from drivers import i2c
from drivers.interfaces import READ_FAILED, HealthEvent, Imu, ImuBatch

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class ChipError(OSError):
    """The chip on the bus is not one this driver can run; the message says what to check."""


class FifoImu(Imu):
    """Base of the I2C IMU drivers. Owns `bus` and closes it on close()."""

    DEFAULT_ADDRESS: int  # the chip's usual I2C address, used when imu.i2c_address is 0

    def _init_common(self, bus: Any, clock: Clock, *, address: int, reset_check_s: float,
                     accel_bias_mps2: Sequence[float], gyro_bias_radps: Sequence[float],
                     sleep: Sleep | None = None) -> None:
        self._bus = bus
        self._clock = clock
        self._sleep = sleep
        self.address = address
        self.reset_check_s = reset_check_s
        self._is_closed = False
        self.overflows = 0
        self.failed_reads = 0
        self.resets = 0
        # Calibrated offsets (imu.accel_bias_mps2, imu.gyro_bias_radps), subtracted where
        # the chip's driver turns raw counts into SI units.
        self.accel_bias_mps2 = tuple(float(b) for b in accel_bias_mps2)
        self.gyro_bias_radps = tuple(float(b) for b in gyro_bias_radps)

    def _wait(self, seconds: float) -> None:
        """Wait during start-up: through `sleep` if one was given, else the clock's own
        sleep_until (so a simulated clock moves on instead of the test sleeping), else time.sleep."""
        if self._sleep is not None:
            self._sleep(seconds)
            return
        sleep_until = getattr(self._clock, "sleep_until", None)
        if sleep_until is not None:
            sleep_until(self._clock() + seconds)
        else:
            time.sleep(seconds)

    def _start_reset_checks(self) -> None:
        self._next_check_s = self._clock() + self.reset_check_s

    @classmethod
    def from_config(cls, section: Any, clock: Clock, *, bus: Any = None, sleep: Sleep | None = None) -> "FifoImu":
        """Open the chip named by the [imu] section; `bus` replaces /dev/i2c-N (tests); `sleep`
        replaces the start-up waits (by default they go through the clock)."""
        owned = bus is None
        if owned:
            bus = i2c.open_bus(section.i2c_bus)
        try:
            return cls(bus, clock, address=section.i2c_address or cls.DEFAULT_ADDRESS,
                       sample_rate_hz=section.sample_rate_hz, lowpass_hz=section.lowpass_hz,
                       accel_full_scale_g=section.accel_full_scale_g,
                       gyro_full_scale_dps=section.gyro_full_scale_dps, reset_check_s=section.reset_check_s,
                       accel_bias_mps2=section.accel_bias_mps2, gyro_bias_radps=section.gyro_bias_radps,
                       sleep=sleep, **cls._options(section))
        except BaseException:
            if owned:
                bus.close()
            raise

    @classmethod
    def _options(cls, section: Any) -> dict[str, Any]:
        """The chip's own settings from the [imu] section, beyond the ones every chip takes."""
        return {}

    # -- the loop's read ---------------------------------------------------------------------
    def read(self) -> ImuBatch:
        batch = ImuBatch()
        if self._is_closed:
            batch.health.append(HealthEvent(self._clock(), READ_FAILED, "the IMU driver is closed"))
            return batch
        try:
            if self._clock() >= self._next_check_s:
                self._next_check_s = self._clock() + self.reset_check_s
                if self._check_reset(batch):
                    return batch
            self._read_fifo(batch)
        except OSError as err:
            self.failed_reads += 1
            batch.health.append(HealthEvent(self._clock(), READ_FAILED, f"I2C: {err}"))
        return batch

    @abc.abstractmethod
    def _read_fifo(self, batch: ImuBatch) -> None:
        """Move every whole sample in the FIFO into batch (or report an overflow)."""
        raise NotImplementedError  # abstract

    @abc.abstractmethod
    def _check_reset(self, batch: ImuBatch) -> bool:
        """True (and the chip configured again) when it lost its configuration."""
        raise NotImplementedError  # abstract

    @abc.abstractmethod
    def _power_down(self) -> None:
        """Put the chip to sleep (best effort: it may already be gone)."""
        raise NotImplementedError  # abstract

    def close(self) -> None:
        if self._is_closed:
            return
        self._is_closed = True
        try:
            self._power_down()
        except OSError:
            pass
        try:
            self._bus.close()
        except Exception:
            pass
