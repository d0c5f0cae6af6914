"""What the safety core hands back: the problems it found and its verdict.

A Problem is one failed check with the values that caused it. A Trip is the
explanation the latch keeps when it trips: the tick, the reason, every problem
seen in that tick. The Verdict of a tick says whether the relay may be energized.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.safety.latch import LatchState

# The stable reason words of the replay contract.
FALL = "fall"
STUMBLE = "stumble"
DRIFT = "drift"
OVERSPEED = "overspeed"
SENSOR_FAULT = "sensor_fault"
BACKWARD_CEILING = "backward_ceiling"  # faster than the walker's own backward ceiling for too long
REASONS = (FALL, STUMBLE, DRIFT, OVERSPEED, SENSOR_FAULT, BACKWARD_CEILING)


@dataclass(frozen=True)
class Problem:
    """One failed check. `detail` names the check (e.g. "imu_stale"); `values` are what
    was seen, `limits` the settings they were judged against (e.g. {"timeout_s": 0.05})."""

    reason: str
    detail: str
    t_s: float
    values: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v:.3g}" for k, v in self.values.items())
        if self.limits:
            shown += "; limit " + ", ".join(f"{k}={v:.3g}" for k, v in self.limits.items())
        return f"{self.reason} ({self.detail}{': ' + shown if shown else ''})"


@dataclass(frozen=True)
class Trip:
    """Why the latch tripped: the tick's time and everything wrong in it."""

    t_s: float
    problems: tuple[Problem, ...]

    @property
    def reason(self) -> str:
        return self.problems[0].reason

    @property
    def detail(self) -> str:
        return self.problems[0].detail

    def describe(self) -> str:
        return f"tripped at {self.t_s:.3f} s: " + "; ".join(p.describe() for p in self.problems)


@dataclass(frozen=True)
class Verdict:
    """The decision of one tick."""

    t_s: float
    state: LatchState
    is_relay_energized: bool
    problems: tuple[Problem, ...]
    trip: Trip | None  # the latched trip while TRIPPED, else None
    is_new_trip: bool  # this tick is the one that tripped the latch
