"""The backward speed ceiling: "start slow", raised only by the walker's own steadiness.

A walker facing the rear (or not yet known to face the console) may not walk
faster than their ceiling. Above it the console warns at once; a belt that
stays above it for `confirm_s` opens the relay (reason `backward_ceiling`).
The ceiling rises by one step after `rise_after_s` of steady backward walking
near it (within `near_mps` below it, the walker's step-time variability and
trunk sway calm, no warning and no stumble meanwhile); a stumble walking
backwards lowers it a step. It never goes below `min_mps` nor above `max_mps`.

Pure: the starting ceiling comes in (the service reads it from the progress
file, and lowers it a step after a long break), changes go out as events (the
service writes them). The clock is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from monitor.safety.verdict import BACKWARD_CEILING, Problem

SPEED_TOLERANCE_MPS = 0.02  # a belt sensor reading a hair over the ceiling is not "above" it


@dataclass(frozen=True)
class CeilingParams:
    min_mps: float
    max_mps: float
    step_mps: float
    near_mps: float
    rise_after_s: float
    confirm_s: float


class CeilingEventKind(Enum):
    ROSE = "rose"  # minutes of steady walking near the ceiling
    LOWERED = "lowered"  # a stumble walking backwards
    BREAK = "break"  # backward walking again after a long break
    WARNED = "warned"  # the belt went above the ceiling
    TRIPPED = "tripped"  # and stayed above it for confirm_s


@dataclass(frozen=True)
class CeilingEvent:
    t_s: float
    kind: CeilingEventKind
    ceiling_mps: float  # the ceiling after the event
    belt_mps: float


class BackwardCeiling:
    """The backward speed ceiling, tick by tick."""

    def __init__(self, params: CeilingParams, *, start_mps: float) -> None:
        self.params = params
        self.ceiling_mps = min(params.max_mps, max(params.min_mps, start_mps))
        self.steady_s = 0.0  # steady time near the ceiling toward the next rise
        self.over_since_s: float | None = None
        self.events: list[CeilingEvent] = []  # new events, taken by the service each tick
        self._last_s: float | None = None

    @property
    def is_over(self) -> bool:
        """The belt is above the ceiling now: the console warns."""
        return self.over_since_s is not None

    @property
    def rise_in_s(self) -> float:
        """Steady time still needed before the next rise."""
        return max(0.0, self.params.rise_after_s - self.steady_s)

    def tick(self, now_s: float, *, belt_mps: float, applies: bool, is_backward: bool, is_steady: bool,
             problems: list[Problem]) -> None:
        """One loop tick. `applies`: the walker is not known to face the console;
        `is_backward`: known to face the rear (only that counts toward a rise)."""
        p = self.params
        dt_s = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        if not applies or belt_mps <= self.ceiling_mps + SPEED_TOLERANCE_MPS:
            self.over_since_s = None
        elif self.over_since_s is None:
            self.over_since_s = now_s
            self.steady_s = 0.0  # a warning: the steady minutes start again
            self._event(now_s, CeilingEventKind.WARNED, belt_mps)
        if self.over_since_s is not None:
            over_s = now_s - self.over_since_s
            if over_s >= p.confirm_s:
                problems.append(Problem(BACKWARD_CEILING, "above_backward_ceiling", now_s, {
                    "belt_mps": belt_mps, "ceiling_mps": self.ceiling_mps, "over_for_s": over_s,
                    "rise_in_s": self.rise_in_s}, {"confirm_s": p.confirm_s}))
            return
        near = self.ceiling_mps - p.near_mps <= belt_mps
        if is_backward and near and is_steady:
            self.steady_s += dt_s
            if self.steady_s >= p.rise_after_s:
                self.steady_s = 0.0
                if self.ceiling_mps < p.max_mps:
                    self.ceiling_mps = min(p.max_mps, self.ceiling_mps + p.step_mps)
                    self._event(now_s, CeilingEventKind.ROSE, belt_mps)
        elif is_backward and near:
            self.steady_s = 0.0  # unsteady near the ceiling: not ready for more

    def stumbled(self, now_s: float, belt_mps: float) -> None:
        """A stumble while walking backwards (or not known forward): a step lower."""
        self._lower(now_s, belt_mps, CeilingEventKind.LOWERED)

    def after_break(self, now_s: float, belt_mps: float) -> None:
        """Backward walking again after a long break (the service knows the calendar): a step lower."""
        self._lower(now_s, belt_mps, CeilingEventKind.BREAK)

    def _lower(self, now_s: float, belt_mps: float, kind: CeilingEventKind) -> None:
        self.steady_s = 0.0
        lowered = max(self.params.min_mps, self.ceiling_mps - self.params.step_mps)
        if lowered < self.ceiling_mps:
            self.ceiling_mps = lowered
            self._event(now_s, kind, belt_mps)

    def tripped(self, now_s: float, belt_mps: float) -> None:
        self._event(now_s, CeilingEventKind.TRIPPED, belt_mps)

    def take_events(self) -> list[CeilingEvent]:
        events, self.events = self.events, []
        return events

    def _event(self, now_s: float, kind: CeilingEventKind, belt_mps: float) -> None:
        self.events.append(CeilingEvent(now_s, kind, self.ceiling_mps, belt_mps))
