"""Steadiness as numbers: the walker's step-time variability and trunk sway.

Step-time variability is the coefficient of variation of the last few step
intervals (healthy young adults: stride-time CV about 1.3 %; older people who
later fell: stride-time SD about 106 ms against 49 ms, Hausdorff et al. 2001).
Sway is the RMS of the trunk's horizontal angular rate (roll and pitch; heading
free) over the last seconds. Both are kept per walking direction for the
session, so a person and their physiotherapist can watch them over sessions.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

INTERVALS_KEPT = 16  # the variability of the last 16 steps (8 strides)
MIN_INTERVALS = 8  # fewer is not a variability yet
MIN_STEP_S, MAX_STEP_S = 0.25, 1.5  # shorter: a step seen twice; longer: a pause, not gait
SWAY_TAU_S = 10.0


@dataclass
class SessionSteadiness:
    """One direction's running means over a session."""

    steps: int = 0
    step_cv_sum: float = 0.0
    sway_sum: float = 0.0

    def as_dict(self) -> dict[str, float | int | None]:
        n = self.steps
        return {"steps": n, "step_cv": self.step_cv_sum / n if n else None,
                "sway_radps": self.sway_sum / n if n else None}


class Steadiness:
    def __init__(self, *, max_step_cv: float, max_sway_radps: float) -> None:
        self.max_step_cv = max_step_cv
        self.max_sway_radps = max_sway_radps
        self._intervals: deque[float] = deque(maxlen=INTERVALS_KEPT)
        self._last_step_s: float | None = None
        self._sway2 = 0.0
        self._sway_weight = 0.0
        self._last_t_s: float | None = None
        self.step_cv: float | None = None
        self.session = {"forward": SessionSteadiness(), "backward": SessionSteadiness()}

    @property
    def sway_radps(self) -> float | None:
        return math.sqrt(self._sway2 / self._sway_weight) if self._sway_weight > 0.5 else None

    @property
    def is_steady(self) -> bool:
        sway = self.sway_radps
        return (self.step_cv is not None and self.step_cv <= self.max_step_cv
                and sway is not None and sway <= self.max_sway_radps)

    def sample(self, t_s: float, roll_radps: float, pitch_radps: float) -> None:
        last = self._last_t_s
        self._last_t_s = t_s
        if last is None or t_s <= last:
            return
        k = min(1.0, (t_s - last) / SWAY_TAU_S)
        self._sway2 += (roll_radps * roll_radps + pitch_radps * pitch_radps - self._sway2) * k
        self._sway_weight += (1.0 - self._sway_weight) * k

    def step(self, t_s: float, direction: str) -> None:
        """A step; `direction` is "forward", "backward" or "unknown" (not counted for the session)."""
        last = self._last_step_s
        self._last_step_s = t_s
        if last is None:
            return
        interval_s = t_s - last
        if interval_s < MIN_STEP_S:
            return
        if interval_s > MAX_STEP_S:
            self._intervals.clear()
            self.step_cv = None
            return
        intervals = self._intervals
        intervals.append(interval_s)
        if len(intervals) < MIN_INTERVALS:
            return
        mean = sum(intervals) / len(intervals)
        var = sum((x - mean) ** 2 for x in intervals) / (len(intervals) - 1)
        self.step_cv = math.sqrt(var) / mean
        sway = self.sway_radps
        session = self.session.get(direction)
        if session is not None and sway is not None:
            session.steps += 1
            session.step_cv_sum += self.step_cv
            session.sway_sum += sway
