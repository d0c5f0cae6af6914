"""Scriptable fake devices for the desk, the bench and the tests.

Each fake plays a prepared list of readings against a clock (any callable
returning seconds), hands over what a real device would have by then, and can
be told to fail the way real hardware fails: reads that raise, a device that
stops answering, a sensor frozen at one value, lost samples.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Callable, Sequence

from drivers.interfaces import (
    OVERFLOW,
    READ_FAILED,
    BeltReading,
    BeltSensor,
    HealthEvent,
    Imu,
    ImuBatch,
    ImuSample,
    RangeReading,
    RangeSensor,
    Relay,
)

Clock = Callable[[], float]
_FOREVER_S = math.inf


class _Window:
    """A time window [start_s, end_s) in which a scripted failure is active."""

    __slots__ = ("start_s", "end_s")

    def __init__(self, start_s: float, end_s: float) -> None:
        if end_s <= start_s:
            raise ValueError(f"window end {end_s} s must be after start {start_s} s")
        self.start_s = start_s
        self.end_s = end_s

    def __contains__(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


def _active(windows: list[_Window], t_s: float) -> bool:
    return any(t_s in w for w in windows)


class FakeImu(Imu):
    """Plays IMU samples whose times are on the clock's time base.

    A sample whose values are not all finite stands for a failed read at that
    time (a trace's empty cell) and is reported as a ``read_failed`` event.
    """

    def __init__(self, clock: Clock, samples: Sequence[Sequence[float]]) -> None:
        """samples: ImuSample or any 7-float sequence (t_s, ax, ay, az, gx, gy, gz)."""
        self._clock = clock
        self._samples = samples
        self._next = 0
        # A list's sample times, kept only when they never go back, so a read can bisect instead of
        # stepping through them; samples added later (the list grew) are stepped through as before, and
        # so is any other sequence (a streamed trace loads its rows only as they come due).
        times = [sample[0] for sample in samples] if isinstance(samples, (list, tuple)) else None
        self._times: list[float] | None = (
            times if times is not None and all(a <= b for a, b in zip(times, times[1:])) else None)
        self._failing: list[_Window] = []
        self._silent: list[_Window] = []
        self._frozen: list[_Window] = []
        self._overflow_at_s: list[float] = []
        self._frozen_values: tuple[float, ...] | None = None
        self._last_values: tuple[float, ...] | None = None
        self.reads = 0
        self.is_closed = False

    # -- scripting -----------------------------------------------------------
    def fail_reads(self, start_s: float, end_s: float = _FOREVER_S) -> None:
        """Every read in the window fails (I2C error); samples taken then are lost."""
        self._failing.append(_Window(start_s, end_s))

    def go_silent(self, start_s: float, end_s: float = _FOREVER_S) -> None:
        """The device answers but hands over nothing (a stopped sample clock)."""
        self._silent.append(_Window(start_s, end_s))

    def freeze(self, start_s: float, end_s: float = _FOREVER_S) -> None:
        """Samples keep coming, but every value repeats the last one before start_s."""
        self._frozen.append(_Window(start_s, end_s))

    def overflow(self, at_s: float) -> None:
        """The FIFO overflows at this time: the read reports lost samples."""
        self._overflow_at_s.append(at_s)

    # -- the device ------------------------------------------------------------
    def read(self) -> ImuBatch:
        now_s = self._clock()
        self.reads += 1
        batch = ImuBatch()
        samples = self._samples
        first = self._next
        times = self._times
        if times is not None and len(times) == len(samples):  # the times as they were, in order: bisect
            self._next = bisect_right(times, now_s, first)
        else:
            while self._next < len(samples) and samples[self._next][0] <= now_s:
                self._next += 1
        if self._next == first and not self._overflow_at_s:  # nothing due (the usual case between samples)
            if self._failing and _active(self._failing, now_s):
                batch.health.append(HealthEvent(now_s, READ_FAILED, "scripted I2C error"))
            return batch
        due = samples[first:self._next]
        if self._failing and _active(self._failing, now_s):
            batch.health.append(HealthEvent(now_s, READ_FAILED, "scripted I2C error"))
            return batch
        if self._overflow_at_s:
            for at_s in [t for t in self._overflow_at_s if t <= now_s]:
                self._overflow_at_s.remove(at_s)
                batch.health.append(HealthEvent(now_s, OVERFLOW, "scripted FIFO overflow"))
        is_scripted = bool(self._silent or self._frozen)
        isfinite = math.isfinite
        append = batch.samples.append
        for sample in due:
            t_s = sample[0]
            values = tuple(sample[1:7])
            if not all(map(isfinite, values)):
                batch.health.append(HealthEvent(t_s, READ_FAILED, "sample missing"))
                continue
            if is_scripted:
                if _active(self._silent, t_s):
                    continue
                if _active(self._frozen, t_s):
                    if self._frozen_values is None:
                        self._frozen_values = self._last_values or values
                    values = self._frozen_values
                else:
                    self._frozen_values = None
            self._last_values = values
            # tuple.__new__ makes the same ImuSample without the named tuple's Python-level
            # constructor: a third of the replay's cost per sample once the core is compiled.
            append(tuple.__new__(ImuSample, (t_s, *values)))
        return batch

    def close(self) -> None:
        self.is_closed = True


class _FakeReadings:
    """Shared playback for sensors that report one newest reading per read."""

    def __init__(self, clock: Clock, readings: Sequence[tuple[float, float]]) -> None:
        self._clock = clock
        self._readings = readings
        self._next = 0
        self._failing: list[_Window] = []
        self._silent: list[_Window] = []
        self.is_closed = False

    def fail_reads(self, start_s: float, end_s: float = _FOREVER_S) -> None:
        """Every read in the window raises OSError."""
        self._failing.append(_Window(start_s, end_s))

    def go_silent(self, start_s: float, end_s: float = _FOREVER_S) -> None:
        """The sensor stops producing readings (unplugged, no echo)."""
        self._silent.append(_Window(start_s, end_s))

    def _newest(self) -> tuple[float, float] | None:
        now_s = self._clock()
        newest = None
        while self._next < len(self._readings) and self._readings[self._next][0] <= now_s:
            t_s, value = self._readings[self._next]
            self._next += 1
            if math.isfinite(value) and not _active(self._silent, t_s):
                newest = (t_s, value)
        if _active(self._failing, now_s):
            raise OSError(f"scripted read failure at {now_s:.3f} s")
        return newest

    def close(self) -> None:
        self.is_closed = True


class FakeBeltSensor(_FakeReadings, BeltSensor):
    """Plays (t_s, speed_mps) readings; NaN speeds mean no reading."""

    def read(self) -> BeltReading | None:
        newest = self._newest()
        return None if newest is None else BeltReading(*newest)


class FakeRangeSensor(_FakeReadings, RangeSensor):
    """Plays (t_s, distance_m) readings; NaN distances mean no reading."""

    def read(self) -> RangeReading | None:
        newest = self._newest()
        return None if newest is None else RangeReading(*newest)


class FakeRelay(Relay):
    """Remembers every change of state with the clock's time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._is_energized = False
        self.changes: list[tuple[float, bool]] = []
        self.is_closed = False

    def energize(self) -> None:
        if self.is_closed:
            raise OSError("relay is closed")
        if not self._is_energized:
            self._is_energized = True
            self.changes.append((self._clock(), True))

    def release(self) -> None:
        if self._is_energized:
            self._is_energized = False
            self.changes.append((self._clock(), False))

    @property
    def is_energized(self) -> bool:
        return self._is_energized

    def close(self) -> None:
        self.release()
        self.is_closed = True
