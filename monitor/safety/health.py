"""Sensor health: stale, missing, failed, frozen and impossible readings.

These checks answer "can the core trust what it is told?". Each takes the time
as an argument; none reads a clock.
The IMU, the sensor every detector needs, is stricter: until its first good
sample every tick is a fault, so nothing arms before it has spoken. The belt
and range sensors must answer within their timeout of the start.
"""

from __future__ import annotations

import math

from drivers.interfaces import DEVICE_RESET, OVERFLOW, READ_FAILED
from monitor.safety.verdict import SENSOR_FAULT, Problem


class ImuHealth:
    """Freshness, failed-read streaks, frozen values and plausibility of IMU data."""

    def __init__(self, *, timeout_s: float, failed_reads_max: int, frozen_s: float,
                 max_accel_mps2: float, max_gyro_radps: float, start_s: float) -> None:
        self.timeout_s = timeout_s
        self.failed_reads_max = failed_reads_max
        self.frozen_s = frozen_s
        self.max_accel_mps2 = max_accel_mps2
        self.max_gyro_radps = max_gyro_radps
        self.last_good_t_s = start_s
        self.has_answered = False  # no sample yet: a fault, so nothing arms before the IMU speaks
        self.failed_in_a_row = 0
        self._last_values: tuple[float, ...] | None = None
        self._unchanged_since_t_s = start_s
        self._events: list[Problem] = []

    def accept(self, t_s: float, values: tuple[float, ...]) -> bool:
        """Judge one sample; True when it may be used for detection."""
        ax, ay, az, gx, gy, gz = values
        limit_a = self.max_accel_mps2
        limit_g = self.max_gyro_radps
        # `not (x <= limit)` is also true for NaN.
        if not (abs(ax) <= limit_a and abs(ay) <= limit_a and abs(az) <= limit_a
                and abs(gx) <= limit_g and abs(gy) <= limit_g and abs(gz) <= limit_g):
            self._events.append(Problem(SENSOR_FAULT, "imu_out_of_range", t_s, {
                "max_abs_accel_mps2": max(abs(ax), abs(ay), abs(az)),
                "max_abs_gyro_radps": max(abs(gx), abs(gy), abs(gz)),
            }))
            return False
        if t_s <= self.last_good_t_s and self._last_values is not None:
            self._events.append(Problem(SENSOR_FAULT, "imu_time_not_increasing", t_s,
                                        {"previous_t_s": self.last_good_t_s}))
            return False
        if values != self._last_values:
            self._unchanged_since_t_s = t_s
            self._last_values = values
        self.last_good_t_s = t_s
        self.has_answered = True
        self.failed_in_a_row = 0
        return True

    def report(self, t_s: float, kind: str, detail: str) -> None:
        """A health event from the driver (or an empty trace cell)."""
        if kind == READ_FAILED:
            self.failed_in_a_row += 1
            if self.failed_in_a_row > self.failed_reads_max:
                self._events.append(Problem(SENSOR_FAULT, "imu_read_failed", t_s,
                                            {"failed_reads_in_a_row": float(self.failed_in_a_row)}))
        elif kind in (OVERFLOW, DEVICE_RESET):
            self._events.append(Problem(SENSOR_FAULT, f"imu_{kind}", t_s, {}))
        else:
            self._events.append(Problem(SENSOR_FAULT, "imu_unknown_event", t_s, {}))

    def check(self, now_s: float, problems: list[Problem]) -> None:
        """Append this tick's IMU health problems."""
        if self._events:
            problems.extend(self._events)
            self._events.clear()
        age_s = now_s - self.last_good_t_s
        if not self.has_answered:
            problems.append(Problem(SENSOR_FAULT, "imu_no_data", now_s, {"since_start_s": age_s}))
        elif age_s > self.timeout_s:
            problems.append(Problem(SENSOR_FAULT, "imu_stale", now_s, {"age_s": age_s}))
        unchanged_s = self.last_good_t_s - self._unchanged_since_t_s
        if unchanged_s >= self.frozen_s:
            problems.append(Problem(SENSOR_FAULT, "imu_frozen", now_s, {"unchanged_s": unchanged_s}))


class ReadingHealth:
    """Freshness and plausibility of a sensor that reports one value at a time."""

    def __init__(self, name: str, unit: str, *, timeout_s: float, low: float, high: float,
                 start_s: float) -> None:
        self.name = name
        self.unit = unit
        self.timeout_s = timeout_s
        self.low = low
        self.high = high
        self.last_t_s = start_s
        self._events: list[Problem] = []

    def accept(self, t_s: float, value: float) -> bool:
        """Judge one reading; True when it may be used."""
        if not (self.low <= value <= self.high) or not math.isfinite(value):
            self._events.append(Problem(SENSOR_FAULT, f"{self.name}_out_of_range", t_s,
                                        {f"{self.name}_{self.unit}": value}))
            return False
        self.last_t_s = max(self.last_t_s, t_s)
        return True

    def check(self, now_s: float, problems: list[Problem]) -> None:
        if self._events:
            problems.extend(self._events)
            self._events.clear()
        age_s = now_s - self.last_t_s
        if age_s > self.timeout_s:
            problems.append(Problem(SENSOR_FAULT, f"{self.name}_stale", now_s, {"age_s": age_s}))
