"""Drift toward the rear edge of the belt, seen two ways.

RangeDrift (a range sensor at the console) sees the walker's position itself:
it catches a slow drift, a walker who stops, and a walker who is no longer in
front of the sensor (stepped off, carried off the back). It cannot tell a
walker's waist from an arm or a towel crossing the beam.

StepDrift (IMU + belt speed, when there is no range sensor) cannot see position
at all. It sees the one drift that matters most: a walker who has stopped
stepping while the belt keeps moving, and so is being carried back at belt
speed. It judges "stopped" on the walker's own gait (StepTracker): their own
step size and their own cadence. It cannot see a slow drift of someone still
stepping (a walker a little slower than the belt), and it cannot tell someone
carried back from someone who stepped onto the side rails. Without a belt
sensor it is off.
"""

from __future__ import annotations

import math

from monitor.safety.verdict import DRIFT, Problem

STANDARD_GRAVITY_MPS2 = 9.80665
MIN_STEP_S = 0.2  # no one steps faster than 5 steps a second: two rises closer than this are one step
DOUBLE_STEP_FRACTION = 0.5  # a rise sooner than half the walker's step period is the same step seen twice
PERIOD_STEPS = 5  # the step period is the median of this many recent intervals
# After a step the signal must fall back to half the threshold before a rise is
# a new step: a slow lobe (the first step from standing) that does not return to
# its mean still separates two steps.
REARM_FRACTION2 = 0.5 ** 2


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


class StepTracker:
    """The walker's own steps, from the vertical acceleration at the waist.

    A step is a rise of the vertical acceleration, band-passed around the step
    frequency (two first-order smoothing stages over a slow mean), above a
    fraction of its own recent RMS and above a noise floor:
    so a soft, slow gait counts its steps as well as a hard one, and so does any
    mount and any sample rate (the filters use each sample's own dt). From the
    steps it learns the walker's recent step period (the median of the last few
    intervals, so one missed or doubled step does not move it) and from that
    how long a pause is no longer part of their gait: no_step_limit_s, at
    least period_ratio of their period and longest_ratio of their longest
    recent interval (a turn or an uneven gait mixes quick and slow steps).
    """

    def __init__(self, *, band_low_hz: float, band_high_hz: float, level_tau_s: float, level_ratio: float,
                 floor_mps2: float, period_ratio: float, longest_ratio: float, min_no_step_s: float,
                 max_no_step_s: float, steps_to_learn: int, start_s: float) -> None:
        self._mean_per_s = 2.0 * math.pi * band_low_hz  # 1 / time constant: a multiply per sample
        self._smooth_per_s = 2.0 * math.pi * band_high_hz
        self._level_per_s = 1.0 / level_tau_s
        self._ratio2 = level_ratio * level_ratio
        self._floor2 = floor_mps2 * floor_mps2
        self.period_ratio = period_ratio
        self.longest_ratio = longest_ratio
        self.min_no_step_s = min_no_step_s
        self.max_no_step_s = max_no_step_s
        self.steps_to_learn = steps_to_learn
        self._mean_mps2 = STANDARD_GRAVITY_MPS2
        self._smooth1_mps2 = 0.0
        self._smooth2_mps2 = 0.0
        self._level2_mps4 = 0.0  # mean square of the band-passed signal: the walker's own step size
        self._last_t_s: float | None = None
        self._is_armed = False  # the signal has been below its mean since the last step
        self._counted_s: float | None = None  # the last step that counted toward the period
        self._intervals_s: list[float] = []
        self.last_step_s = start_s
        self.period_s: float | None = None
        self.no_step_limit_s = max_no_step_s  # until the walker's own period is known

    def sample(self, t_s: float, vertical_mps2: float) -> bool:
        """One sample of vertical specific force (+g at rest); True if it is a step."""
        last = self._last_t_s
        self._last_t_s = t_s
        dt_s = 0.0 if last is None else t_s - last
        self._mean_mps2 += (vertical_mps2 - self._mean_mps2) * min(1.0, dt_s * self._mean_per_s)
        a = min(1.0, dt_s * self._smooth_per_s)
        self._smooth1_mps2 += (vertical_mps2 - self._mean_mps2 - self._smooth1_mps2) * a
        self._smooth2_mps2 += (self._smooth1_mps2 - self._smooth2_mps2) * a
        z = self._smooth2_mps2
        z2 = z * z
        self._level2_mps4 += (z2 - self._level2_mps4) * min(1.0, dt_s * self._level_per_s)
        threshold2 = max(self._floor2, self._ratio2 * self._level2_mps4)
        if z <= 0.0 or z2 <= REARM_FRACTION2 * threshold2:
            self._is_armed = True
            return False
        if not self._is_armed or z2 <= threshold2:
            return False
        self._is_armed = False
        self.last_step_s = t_s
        self._learn(t_s)
        return True

    @property
    def band_mps2(self) -> float:
        """The band-passed vertical acceleration at the last sample."""
        return self._smooth2_mps2

    @property
    def level_mps2(self) -> float:
        """The walker's own step size: the recent RMS of the band-passed signal."""
        return math.sqrt(self._level2_mps4)

    def _learn(self, t_s: float) -> None:
        """The step period, from steps that are not part of one step seen twice."""
        counted = self._counted_s
        if counted is not None:
            interval_s = t_s - counted
            if interval_s < max(MIN_STEP_S, DOUBLE_STEP_FRACTION * (self.period_s or 0.0)):
                return  # the same step seen twice: it still shows the walker moving
            if interval_s > self.max_no_step_s:
                self._intervals_s.clear()  # a pause: start learning anew
                self.period_s = None
                self.no_step_limit_s = self.max_no_step_s
            else:
                intervals = self._intervals_s
                intervals.append(interval_s)
                if len(intervals) > PERIOD_STEPS:
                    del intervals[0]
                if len(intervals) >= self.steps_to_learn:
                    ordered = sorted(intervals)
                    self.period_s = ordered[len(ordered) // 2]
                    own_s = max(self.period_ratio * self.period_s, self.longest_ratio * ordered[-1])
                    self.no_step_limit_s = min(self.max_no_step_s, max(self.min_no_step_s, own_s))
        self._counted_s = t_s


class StepDrift:
    """Trips when the walker has not stepped for longer than their own gait
    allows (StepTracker.no_step_limit_s) while the belt has carried them at
    least max_carry_m."""

    def __init__(self, steps: StepTracker, *, min_belt_mps: float, max_carry_m: float, start_s: float) -> None:
        self.steps = steps
        self.min_belt_mps = min_belt_mps
        self.max_carry_m = max_carry_m
        self.carried_m = 0.0
        self._step_since_tick = False
        self._last_tick_s = start_s

    def sample(self, t_s: float, vertical_accel_mps2: float) -> None:
        """One IMU sample's vertical specific force (treadmill z, +g at rest)."""
        if self.steps.sample(t_s, vertical_accel_mps2):
            self._step_since_tick = True

    def check(self, now_s: float, belt_mps: float, problems: list[Problem]) -> None:
        if self._step_since_tick or belt_mps < self.min_belt_mps:
            self.carried_m = 0.0
        else:
            self.carried_m += belt_mps * (now_s - self._last_tick_s)
        self._step_since_tick = False
        self._last_tick_s = now_s
        steps = self.steps
        no_step_s = now_s - steps.last_step_s
        if no_step_s >= steps.no_step_limit_s and self.carried_m >= self.max_carry_m:
            values = {"no_step_s": no_step_s, "no_step_limit_s": steps.no_step_limit_s}
            if steps.period_s is not None:  # the limit came from the walker's own cadence
                values["step_period_s"] = steps.period_s
            values["carried_m"] = self.carried_m
            values["belt_mps"] = belt_mps
            problems.append(Problem(DRIFT, "stopped_stepping", now_s, values))
