"""Sensor health: stale, missing, failed, frozen, stuck and impossible readings.

These checks answer "can the core trust what it is told?". Each takes the time
as an argument; none reads a clock. Windowed checks keep running sums, never a
list of samples, so a tick costs the same however long the window.
The IMU, the sensor every detector needs, is stricter: until its first good
sample every tick is a fault, so nothing arms before it has spoken. The belt
and range sensors must answer within their timeout of the start.
Every problem carries the values that caused it and the limits they broke.
"""

from __future__ import annotations

import math

from drivers.interfaces import DEVICE_RESET, OVERFLOW, READ_FAILED
from monitor.safety.verdict import SENSOR_FAULT, Problem

CHANNELS = ("ax_mps2", "ay_mps2", "az_mps2", "gx_radps", "gy_radps", "gz_radps")


class GravityBand:
    """The mean magnitude of the acceleration over consecutive windows lies in a band around 1 g.

    Whatever a walker does, the waist's acceleration averages to about 1 g over a
    second (walking reads about 1.0 g, a fast jog up to 2.1 g, a fall with its near
    free fall and its impact 0.7 to 1.5 g in the real recordings). An accelerometer
    that reads 0,0,0, reads in g instead of m/s², has lost its gravity (a high-pass,
    a dead proof mass) or a wrong scale factor averages far outside. A window
    restarts after a hole in the data, so it always covers contiguous samples.
    """

    __slots__ = ("window_s", "low_mps2", "high_mps2", "hole_s", "_start_s", "_last_s", "_sum", "_count")
    _last_s: float  # these three are set when a window opens (declared here for the compiled build)
    _sum: float
    _count: int

    def __init__(self, *, window_s: float, low_mps2: float, high_mps2: float, hole_s: float) -> None:
        self.window_s = window_s
        self.low_mps2 = low_mps2
        self.high_mps2 = high_mps2
        self.hole_s = hole_s
        self._start_s: float | None = None  # no window open: _last_s, _sum and _count are set when one opens

    def add(self, t_s: float, ax: float, ay: float, az: float) -> Problem | None:
        """One good sample; a Problem when it closes a window whose mean is out of the band."""
        start_s = self._start_s
        if start_s is None or t_s - self._last_s > self.hole_s:
            self._start_s = t_s
            self._last_s = t_s
            self._sum = math.sqrt(ax * ax + ay * ay + az * az)
            self._count = 1
            return None
        self._last_s = t_s
        self._sum += math.sqrt(ax * ax + ay * ay + az * az)
        self._count += 1
        span_s = t_s - start_s
        if span_s < self.window_s:
            return None
        mean_mps2 = self._sum / self._count
        self._start_s = None  # the next sample opens the next window
        if self.low_mps2 <= mean_mps2 <= self.high_mps2:
            return None
        return Problem(SENSOR_FAULT, "imu_gravity_implausible", t_s,
                       {"mean_accel_mps2": mean_mps2, "window_s": span_s},
                       {"gravity_min_mps2": self.low_mps2, "gravity_max_mps2": self.high_mps2})


class ChannelLiveness:
    """Each IMU channel keeps moving while the others do, and a gyro is never exactly 0 on every axis.

    A real sensor's noise changes every channel within a fraction of a second on
    a person (the longest run of one repeated count in the real recordings is
    0.085 s), while a broken axis, a stuck register or a driver bug repeats one
    value bit for bit. A channel counts as stuck only while another channel
    changed after it last did; all six unchanged is the frozen check's. A gyro
    that answers exactly 0.0 on all three axes is a part that is not measuring
    (no real zero-rate offset is exactly zero on three axes at once).
    """

    __slots__ = ("stuck_s", "gyro_zero_s", "_values", "_changed_s", "_any_changed_s", "_zero_since_s")
    _changed_s: list[float]  # these two are set by the first sample (declared here for the compiled build)
    _any_changed_s: float

    def __init__(self, *, stuck_s: float, gyro_zero_s: float) -> None:
        self.stuck_s = stuck_s
        self.gyro_zero_s = gyro_zero_s
        # No sample yet: _changed_s and _any_changed_s are set by the first.
        self._values: tuple[float, ...] | None = None
        self._zero_since_s: float | None = None

    def add(self, t_s: float, values: tuple[float, ...]) -> Problem | None:
        """One good sample; a Problem while a channel is stuck or the gyro is exactly zero."""
        last = self._values
        self._values = values
        if last is None:  # the first sample: every channel has just changed
            self._changed_s = [t_s] * len(values)
            self._any_changed_s = t_s
        else:
            changed = self._changed_s
            for i in range(6):
                if values[i] != last[i]:
                    changed[i] = t_s
                    self._any_changed_s = t_s
        if values[3] == 0.0 and values[4] == 0.0 and values[5] == 0.0:
            if self._zero_since_s is None:
                self._zero_since_s = t_s
            zero_s = t_s - self._zero_since_s
            if zero_s >= self.gyro_zero_s:
                return Problem(SENSOR_FAULT, "imu_gyro_zero", t_s, {"zero_s": zero_s},
                               {"gyro_zero_s": self.gyro_zero_s})
        else:
            self._zero_since_s = None
        any_changed_s = self._any_changed_s
        changed = self._changed_s
        for i in range(6):
            since_s = changed[i]
            if since_s < any_changed_s and t_s - since_s >= self.stuck_s:
                return Problem(SENSOR_FAULT, "imu_channel_stuck", t_s,
                               {CHANNELS[i]: values[i], "unchanged_s": t_s - since_s},
                               {"channel_stuck_s": self.stuck_s})
        return None


class FailedReadRate:
    """Failed reads counted over a window: a sensor that fails every other read is not
    working, even though it never fails several times in a row."""

    __slots__ = ("window_s", "max_in_window", "_start_s", "_count")
    _count: int  # set when a window opens (declared here for the compiled build)

    def __init__(self, *, window_s: float, max_in_window: int) -> None:
        self.window_s = window_s
        self.max_in_window = max_in_window
        self._start_s: float | None = None  # no window open: _count is set when one opens

    def add(self, t_s: float) -> Problem | None:
        """One failed read; a Problem when the window holds more than allowed."""
        if self._start_s is None or t_s - self._start_s >= self.window_s:
            self._start_s = t_s
            self._count = 1
        else:
            self._count += 1
        if self._count <= self.max_in_window:
            return None
        return Problem(SENSOR_FAULT, "imu_reads_failing", t_s,
                       {"failed_reads": float(self._count), "within_s": t_s - self._start_s},
                       {"failed_reads_in_window_max": float(self.max_in_window),
                        "failed_reads_window_s": self.window_s})


class ImuHealth:
    """Freshness, failed reads, frozen and stuck values and plausibility of IMU data."""

    def __init__(self, *, timeout_s: float, failed_reads_max: int, frozen_s: float,
                 max_accel_mps2: float, max_gyro_radps: float, start_s: float,
                 gravity: GravityBand | None = None, liveness: ChannelLiveness | None = None,
                 failed_rate: FailedReadRate | None = None) -> None:
        self.timeout_s = timeout_s
        self.failed_reads_max = failed_reads_max
        self.frozen_s = frozen_s
        self.max_accel_mps2 = max_accel_mps2
        self.max_gyro_radps = max_gyro_radps
        self.gravity = gravity
        self.liveness = liveness
        self.failed_rate = failed_rate
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
            if not all(map(math.isfinite, values)):  # NaN or inf: nothing was read
                self._read_failed(t_s)
                return False
            self._events.append(Problem(SENSOR_FAULT, "imu_out_of_range", t_s, {
                "max_abs_accel_mps2": max(abs(ax), abs(ay), abs(az)),
                "max_abs_gyro_radps": max(abs(gx), abs(gy), abs(gz)),
            }, {"max_accel_mps2": limit_a, "max_gyro_radps": limit_g}))
            return False
        if t_s <= self.last_good_t_s and self._last_values is not None:
            self._events.append(Problem(SENSOR_FAULT, "imu_time_not_increasing", t_s,
                                        {"previous_t_s": self.last_good_t_s}))
            return False
        if self.gravity is not None:
            problem = self.gravity.add(t_s, ax, ay, az)
            if problem is not None:
                self._events.append(problem)
        if self.liveness is not None:
            problem = self.liveness.add(t_s, values)
            if problem is not None:
                self._events.append(problem)
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
            self._read_failed(t_s)
        elif kind in (OVERFLOW, DEVICE_RESET):
            self._events.append(Problem(SENSOR_FAULT, f"imu_{kind}", t_s))
        else:
            self._events.append(Problem(SENSOR_FAULT, "imu_unknown_event", t_s))

    def _read_failed(self, t_s: float) -> None:
        """One read that gave nothing usable: counted in a row and over the window."""
        self.failed_in_a_row += 1
        if self.failed_in_a_row > self.failed_reads_max:
            self._events.append(Problem(SENSOR_FAULT, "imu_read_failed", t_s,
                                        {"failed_reads_in_a_row": float(self.failed_in_a_row)},
                                        {"failed_reads_max": float(self.failed_reads_max)}))
        if self.failed_rate is not None:
            problem = self.failed_rate.add(t_s)
            if problem is not None:
                self._events.append(problem)

    def check(self, now_s: float, problems: list[Problem]) -> None:
        """Append this tick's IMU health problems."""
        if self._events:
            problems.extend(self._events)
            self._events.clear()
        age_s = now_s - self.last_good_t_s
        if not self.has_answered:
            problems.append(Problem(SENSOR_FAULT, "imu_no_data", now_s, {"since_start_s": age_s}))
        elif age_s > self.timeout_s:
            problems.append(Problem(SENSOR_FAULT, "imu_stale", now_s, {"age_s": age_s},
                                    {"timeout_s": self.timeout_s}))
        unchanged_s = self.last_good_t_s - self._unchanged_since_t_s
        if unchanged_s >= self.frozen_s:
            problems.append(Problem(SENSOR_FAULT, "imu_frozen", now_s, {"unchanged_s": unchanged_s},
                                    {"frozen_s": self.frozen_s}))


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
                                        {f"{self.name}_{self.unit}": value},
                                        {f"min_{self.unit}": self.low, f"max_{self.unit}": self.high}))
            return False
        self.last_t_s = max(self.last_t_s, t_s)
        return True

    def check(self, now_s: float, problems: list[Problem]) -> None:
        if self._events:
            problems.extend(self._events)
            self._events.clear()
        age_s = now_s - self.last_t_s
        if age_s > self.timeout_s:
            problems.append(Problem(SENSOR_FAULT, f"{self.name}_stale", now_s, {"age_s": age_s},
                                    {"timeout_s": self.timeout_s}))
