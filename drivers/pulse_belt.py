"""Belt speed from a hall or optical pulse sensor on the front roller, through gpiozero.

The sensor pulls the pin low once (or a few times) per roller turn; the pin's
pull-up holds it high between pulses. Speed comes from the time between two
pulses, taken from the edge timestamps the pin factory hands to the pin's
`when_changed` callback (lgpio: the kernel's timestamp of the edge, so the
speed does not depend on how late the callback thread ran). Only differences
between two edge timestamps are used, never their clock base; *when* a pulse
came is read from the monitor clock in the callback.

Rules, in the order they apply to each edge:

* Debounce: an edge less than debounce_s after the previous edge (of either
  direction) is bounce or noise and is ignored (and restarts the quiet time).
* The first pulse after a stop (no pulse for stopped_s) only starts timing.
* Plausibility: a speed that differs from the last accepted one by more than
  max_accel_mps2 times the interval is not the belt. A too-short interval is
  taken as an extra (noise) pulse and skipped, so timing goes on from the last
  good pulse; a too-long one as a missed pulse, so timing restarts there. At the
  third implausible interval in a row the speed really is new: the interval
  between the last two pulses is believed.
  While the newest interval is implausible, read() returns None and
  `implausible_pulses` counts it: the core's staleness check decides.

read() always answers with the speed as it stands at the monitor's `now`:
0.0 m/s when no pulse came for stopped_s, otherwise the last measured speed,
but never more than one pulse spacing over the time since the last pulse (a
belt that slows down shows it before the next pulse arrives).

A cut sensor wire and a stopped belt look the same to a pulse sensor (no
pulses): this driver cannot tell them apart and reads both as 0.0 m/s.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from drivers.interfaces import BeltReading, BeltSensor

Clock = Callable[[], float]
BELIEVE_AFTER = 3  # implausible intervals in a row that are taken as a real change


class PulseBeltSensor(BeltSensor):
    """Belt speed in m/s from the pulse sensor on one GPIO pin."""

    def __init__(self, pin: int, clock: Clock, *, pulses_per_m: float, debounce_s: float = 0.002,
                 stopped_s: float = 1.0, max_accel_mps2: float = 10.0, pin_factory: Any) -> None:
        from gpiozero import InputDevice

        if not pulses_per_m > 0:
            raise ValueError(f"pulses_per_m must be positive, not {pulses_per_m!r}")
        self._clock = clock
        self.pulses_per_m = pulses_per_m
        self.debounce_s = debounce_s
        self.stopped_s = stopped_s
        self.max_accel_mps2 = max_accel_mps2
        self._lock = threading.Lock()
        self._last_edge_ticks: Any = None
        self._last_pulse_ticks: Any = None  # the pulse timing goes on from (the last good one)
        self._previous_pulse_ticks: Any = None  # the pulse before this one, good or not
        self._last_pulse_s: float | None = None
        self._speed_mps: float | None = None  # last accepted; None: timing just (re)started
        self._rejected_in_a_row = 0
        self.pulses = 0
        self.bounces = 0
        self.implausible_pulses = 0
        self._is_closed = False
        self._device = None
        try:
            self._device = InputDevice(pin, pull_up=True, pin_factory=pin_factory)
            self._ticks_diff = self._device.pin_factory.ticks_diff
            self._active_level = 0  # the sensor pulls low
            pin_ = self._device.pin
            pin_.bounce = None  # our own debounce, on the edge timestamps
            pin_.edges = "both"
            pin_.when_changed = self._on_edge
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_config(cls, section: Any, clock: Clock, *, pin_factory: Any = None) -> "PulseBeltSensor":
        if pin_factory is None:
            from drivers.gpio_backend import real_pin_factory
            pin_factory = real_pin_factory()
        return cls(section.pin, clock, pulses_per_m=section.pulses_per_m, debounce_s=section.debounce_s,
                   stopped_s=section.stopped_s, max_accel_mps2=section.max_accel_mps2, pin_factory=pin_factory)

    # -- the edge callback (gpiozero's thread) ---------------------------------------------------
    def _on_edge(self, ticks: Any, state: int) -> None:
        now_s = self._clock()
        with self._lock:
            last = self._last_edge_ticks
            self._last_edge_ticks = ticks
            if last is not None and self._ticks_diff(ticks, last) < self.debounce_s:
                self.bounces += 1
                return
            if int(bool(state)) == self._active_level:
                self._pulse(ticks, now_s)

    def _pulse(self, ticks: Any, now_s: float) -> None:
        self.pulses += 1
        previous, self._previous_pulse_ticks = self._previous_pulse_ticks, ticks
        if self._last_pulse_s is None or now_s - self._last_pulse_s > self.stopped_s:
            self._restart_timing(ticks, now_s)
            return
        dt_s = self._ticks_diff(ticks, self._last_pulse_ticks)
        if not dt_s > 0:
            return
        speed = 1.0 / (self.pulses_per_m * dt_s)
        reference = self._speed_mps
        if reference is None or abs(speed - reference) <= self.max_accel_mps2 * dt_s:
            self._accept(ticks, now_s, speed)
            return
        self.implausible_pulses += 1
        self._rejected_in_a_row += 1
        if self._rejected_in_a_row >= BELIEVE_AFTER:  # believe the newest interval itself
            raw_dt_s = self._ticks_diff(ticks, previous) if previous is not None else dt_s
            self._accept(ticks, now_s, 1.0 / (self.pulses_per_m * raw_dt_s) if raw_dt_s > 0 else speed)
        elif speed < reference:  # a missed pulse: time the next interval from here
            self._last_pulse_ticks = ticks
            self._last_pulse_s = now_s
        # else an extra pulse: keep timing from the last good one

    def _restart_timing(self, ticks: Any, now_s: float) -> None:
        self._last_pulse_ticks = ticks
        self._last_pulse_s = now_s
        self._speed_mps = None
        self._rejected_in_a_row = 0

    def _accept(self, ticks: Any, now_s: float, speed: float) -> None:
        self._speed_mps = speed
        self._last_pulse_ticks = ticks
        self._last_pulse_s = now_s
        self._rejected_in_a_row = 0

    # -- the loop's read ---------------------------------------------------------------------
    def read(self) -> BeltReading | None:
        now_s = self._clock()
        with self._lock:
            if self._is_closed:
                raise OSError("the belt sensor is closed")
            if self._rejected_in_a_row:
                return None
            last_s = self._last_pulse_s
            if last_s is None or now_s - last_s > self.stopped_s:
                self._speed_mps = None
                return BeltReading(now_s, 0.0)
            speed = self._speed_mps or 0.0
            age_s = now_s - last_s
            if age_s > 0:
                speed = min(speed, 1.0 / (self.pulses_per_m * age_s))
            return BeltReading(now_s, speed)

    def close(self) -> None:
        with self._lock:
            self._is_closed = True
        device, self._device = self._device, None
        if device is not None:
            try:
                device.pin.when_changed = None
            except Exception:
                pass
            device.close()
