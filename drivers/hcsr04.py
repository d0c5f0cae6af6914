"""The HC-SR04 ultrasonic range sensor through gpiozero's DistanceSensor, with freshness.

gpiozero's DistanceSensor pings in its own thread and keeps a queue of recent
distances; when echoes stop coming (an unplugged sensor) the queue keeps its
old values, so `distance` alone cannot tell a fresh reading from a stale one.
This driver records each successful ping with the monitor time it finished,
and read() hands over a reading only once: the newest since the previous call,
or None. No echo within max_distance reads as max_distance (gpiozero clips),
which is past the rear edge: a fault in the core, never "walker safe".
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable

from drivers.interfaces import RangeReading, RangeSensor

Clock = Callable[[], float]


def _reporting_sensor_class() -> type:
    from gpiozero import DistanceSensor

    class ReportingDistanceSensor(DistanceSensor):
        """DistanceSensor that calls on_reading(fraction of max_distance) after each good ping.
        Hooks gpiozero 2.0's DistanceSensor._read, the one place a ping completes."""

        def __init__(self, *args: Any, on_reading: Callable[[float], None], **kwargs: Any) -> None:
            self._on_reading = on_reading
            super().__init__(*args, **kwargs)

        def _read(self) -> float | None:
            value = super()._read()
            if value is not None:
                self._on_reading(value)
            return value

    return ReportingDistanceSensor


class HcSr04(RangeSensor):
    """Distance in metres from the HC-SR04 at the console to the walker."""

    def __init__(self, trigger_pin: int, echo_pin: int, clock: Clock, *, max_distance_m: float = 3.0,
                 pin_factory: Any) -> None:
        self._clock = clock
        self.max_distance_m = max_distance_m
        self._lock = threading.Lock()
        self._newest: RangeReading | None = None
        self._is_closed = False
        self.readings = 0
        self._sensor = None
        try:
            with warnings.catch_warnings():
                # its advice to use pigpio for timing is not a fallback of the pin factory
                from gpiozero.exc import PWMSoftwareFallback
                warnings.simplefilter("ignore", PWMSoftwareFallback)
                self._sensor = _reporting_sensor_class()(
                    echo=echo_pin, trigger=trigger_pin, max_distance=max_distance_m, queue_len=1,
                    partial=True, pin_factory=pin_factory, on_reading=self._on_reading)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_config(cls, section: Any, clock: Clock, *, pin_factory: Any = None) -> "HcSr04":
        if pin_factory is None:
            from drivers.gpio_backend import real_pin_factory
            pin_factory = real_pin_factory()
        return cls(section.trigger_pin, section.echo_pin, clock, max_distance_m=section.max_distance_m,
                   pin_factory=pin_factory)

    def _on_reading(self, fraction: float) -> None:
        reading = RangeReading(self._clock(), fraction * self.max_distance_m)
        with self._lock:
            self._newest = reading
            self.readings += 1

    def read(self) -> RangeReading | None:
        with self._lock:
            if self._is_closed:
                raise OSError("the range sensor is closed")
            newest, self._newest = self._newest, None
        return newest

    def close(self) -> None:
        with self._lock:
            self._is_closed = True
        sensor, self._sensor = self._sensor, None
        if sensor is not None:
            sensor.close()
