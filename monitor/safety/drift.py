"""Drift toward the rear edge of the belt, seen two ways.

RangeDrift (a range sensor at the console) sees the walker's position itself:
it catches a slow drift, a walker who stops, and a walker who is no longer in
front of the sensor (stepped off, carried off the back). It cannot tell a
walker's waist from an arm or a towel crossing the beam.

StepDrift (IMU + belt speed, when there is no range sensor) cannot see position
at all. It sees the one drift that matters most: a walker who has stopped
stepping while the belt keeps moving, and so is being carried back at belt
speed. It cannot see a slow drift of someone still stepping (a walker a little
slower than the belt), and it cannot tell someone carried back from someone who
stepped onto the side rails. Without a belt sensor it is off.
"""

from __future__ import annotations

from monitor.safety.verdict import DRIFT, Problem

STANDARD_GRAVITY_MPS2 = 9.80665


class RangeDrift:
    def __init__(self, *, rear_edge_m: float, min_rear_margin_m: float) -> None:
        self.rear_edge_m = rear_edge_m
        self.min_rear_margin_m = min_rear_margin_m
        self.margin_m: float | None = None

    def update(self, t_s: float, distance_m: float) -> None:
        """One range reading: distance from the console to the walker."""
        self.margin_m = self.rear_edge_m - distance_m

    def check(self, now_s: float, problems: list[Problem]) -> None:
        if self.margin_m is not None and self.margin_m < self.min_rear_margin_m:
            problems.append(Problem(DRIFT, "near_rear_edge", now_s, {
                "rear_margin_m": self.margin_m,
                "min_rear_margin_m": self.min_rear_margin_m,
            }))


class StepDrift:
    def __init__(self, *, min_belt_mps: float, step_accel_mps2: float, min_no_step_s: float,
                 max_carry_m: float, start_s: float) -> None:
        self.min_belt_mps = min_belt_mps
        self.step_accel_mps2 = step_accel_mps2
        self.min_no_step_s = min_no_step_s
        self.max_carry_m = max_carry_m
        self.last_step_t_s = start_s
        self.carried_m = 0.0
        self._step_since_tick = False
        self._last_tick_s = start_s

    def sample(self, t_s: float, vertical_accel_mps2: float) -> None:
        """One IMU sample's vertical specific force (treadmill z, +g at rest)."""
        if abs(vertical_accel_mps2 - STANDARD_GRAVITY_MPS2) > self.step_accel_mps2:
            self.last_step_t_s = t_s
            self._step_since_tick = True

    def check(self, now_s: float, belt_mps: float, problems: list[Problem]) -> None:
        if self._step_since_tick or belt_mps < self.min_belt_mps:
            self.carried_m = 0.0
        else:
            self.carried_m += belt_mps * (now_s - self._last_tick_s)
        self._step_since_tick = False
        self._last_tick_s = now_s
        no_step_s = now_s - self.last_step_t_s
        if no_step_s >= self.min_no_step_s and self.carried_m >= self.max_carry_m:
            problems.append(Problem(DRIFT, "stopped_stepping", now_s, {
                "no_step_s": no_step_s,
                "carried_m": self.carried_m,
                "belt_mps": belt_mps,
            }))
