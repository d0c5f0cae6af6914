"""Which way the walker faces, from the body: turns and the gait's own signature.

Two cues, each cheap per sample:

- A turn: the vertical rate (smoothed, so the pelvis's swing from step to step
  does not count) above `turn_rate_radps` is a turn in progress; the raw rate is
  integrated over that turn only, so gyro drift does not matter. A turn of at
  least `turn_min_deg` flips the belief as it ends (on a treadmill a half turn
  means facing the other way). Without a belt sensor nothing says the walker is
  on a belt (a recording made overground, a walker stepping off): the turn then
  makes the direction unknown, and the gait decides.
- The gait: around each foot contact the trunk is braked along the way it
  travels. In the step band, the fore-aft acceleration leads the vertical one by
  about a quarter period walking forward (SisFall, 22 young and 8 older people:
  +77 to +141 degrees at the step frequency) and lags it walking backwards,
  which is close to forward walking reversed in time. So the normalised
  correlation of the vertical jerk with the fore-aft acceleration, over a few
  steps, is positive walking forward and negative walking backwards. Running
  inverts it (the vertical peak moves from double support to mid-stance: -31
  to -149 degrees), so the gait is first called walking or running from its
  cadence and vertical bounce, both unchanged by the direction, and nothing is
  concluded between the two.

The fore-aft axis is the body's front, which the mount and the declared
direction give together (a calibration); with no mount the gait says nothing
and only turns move the belief. Until a cue decides, the direction is UNKNOWN
and the stricter (backward) limits apply. What it cannot tell: side-stepping
(no fore-aft gait), a slow turn (below the turn rate: the gait catches it some
seconds later), a clip worn back to front with no calibration.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

from monitor.safety.drift import StepTracker

HIGH_PASS_HZ = 0.5  # below the slowest cadence: posture and gravity drop out
LOW_PASS_HZ = 3.0  # above the fastest walking cadence: heel-strike jolts are smoothed
TURN_SMOOTH_HZ = 0.7  # below the stride frequency (~0.7 to 1.2 Hz): the pelvis's yaw swing is damped
STEPPING_S = 1.5  # a step within this long: the walker is stepping
CHANGES_KEPT = 1000  # direction changes remembered for replay and status (bounded memory)


class Direction(Enum):
    FORWARD = "forward"  # facing the console
    BACKWARD = "backward"  # facing the rear
    UNKNOWN = "unknown"  # not known with confidence: the backward limits apply


class Cue(Enum):
    GAIT_FORWARD = "gait_forward"  # enough evidence from the gait: walking forward
    GAIT_BACKWARD = "gait_backward"
    TURNED = "turned"  # a half turn ended, on a treadmill with a belt sensor
    TURNED_UNSURE = "turned_unsure"  # a half turn ended with no belt sensor: on the belt, or stepping off it?


def next_direction(state: Direction, cue: Cue) -> Direction:
    """The one transition function: the gait decides outright; a half turn flips a known
    direction and leaves an unknown one unknown; a half turn that may not be on the belt
    makes it unknown."""
    if cue is Cue.GAIT_FORWARD:
        return Direction.FORWARD
    if cue is Cue.GAIT_BACKWARD:
        return Direction.BACKWARD
    if cue is Cue.TURNED_UNSURE:
        return Direction.UNKNOWN
    if state is Direction.FORWARD:
        return Direction.BACKWARD
    if state is Direction.BACKWARD:
        return Direction.FORWARD
    return Direction.UNKNOWN


@dataclass(frozen=True)
class Change:
    """One change of the believed direction: when, to what, and why."""

    t_s: float
    direction: Direction
    cue: Cue
    turn_deg: float | None = None  # the turn's angle, for a turn


@dataclass(frozen=True)
class DirectionParams:
    """The estimator's settings, read from the config's [direction] section."""

    turn_rate_radps: float
    turn_min_deg: float
    gait_tau_s: float
    evidence_s: float
    min_correlation: float
    walk_max_step_hz: float
    walk_max_vertical_mps2: float
    run_min_step_hz: float
    run_min_vertical_mps2: float


def calibrated_facing(walking: str) -> str:
    """The way the walker faces when the mount is calibrated: the rear for "backward", else the console
    ("auto" calibrates facing the console). A trace's `walking` metadata says this."""
    return "backward" if walking == "backward" else "forward"


def initial_direction(walking: str) -> Direction:
    """The starting assumption: the declared direction, or UNKNOWN for "auto"."""
    return {"forward": Direction.FORWARD, "backward": Direction.BACKWARD}.get(walking, Direction.UNKNOWN)


class DirectionEstimator:
    """Follows the walker's facing direction, sample by sample (treadmill-frame values)."""

    def __init__(self, params: DirectionParams, steps: StepTracker, *, walking: str, has_front: bool,
                 start_s: float, has_belt: bool = True) -> None:
        self.params = params
        self.steps = steps
        self.has_front = has_front  # the body's front is known (a mount): the gait cue can run
        self.has_belt = has_belt  # a belt sensor: the walker is on a treadmill, a half turn changes the facing
        self.state = initial_direction(walking)
        self.changes: deque[Change] = deque(maxlen=CHANGES_KEPT)
        self.evidence = 0.0  # -1 (backward) .. +1 (forward); a decision at either end
        self.correlation = 0.0  # the last gait correlation (+ forward, - backward), for status
        self.gait = "none"  # "walking", "running", "unsure" or "none", for status
        self.step_hz = 0.0  # the cadence and the vertical bounce the gait was judged on, for status
        self.bounce_mps2 = 0.0
        self.raw_correlation = 0.0  # before the walking/running sign
        self._last_t_s: float | None = None
        self._warm_s = 0.0
        self._turn_rate = 0.0  # the smoothed vertical rate
        self._turn_rad: float | None = None  # the angle of a turn in progress
        self._reset_filters()

    def _reset_filters(self) -> None:
        self._mean_v = self._mean_f = 0.0
        self._v = self._f = 0.0
        self._jerk_f = self._jerk2 = self._f2 = self._v2 = 0.0
        self._weight = 0.0  # how much of the averages is data, not their zero start
        self._is_primed = False
        self._warm_s = 0.0

    def gap(self) -> None:
        """A hole in the samples: the gait statistics start again (the belief is kept)."""
        self._reset_filters()
        self._last_t_s = None
        self._turn_rad = None

    def sample(self, t_s: float, front_mps2: float, vertical_mps2: float, vertical_radps: float) -> bool:
        """One sample: fore-aft acceleration toward the body's front (0 with no mount),
        vertical specific force (+g at rest) and vertical rate (rad/s, counter-clockwise).
        True if it is a step."""
        last = self._last_t_s
        self._last_t_s = t_s
        is_step = self.steps.sample(t_s, vertical_mps2)
        if last is None:
            return is_step
        dt_s = t_s - last
        if dt_s <= 0.0:
            return is_step
        self._turn(t_s, dt_s, vertical_radps)
        if self.has_front:
            self._gait(t_s, dt_s, front_mps2, vertical_mps2)
        return is_step

    # -- a turn -------------------------------------------------------------------------
    def _turn(self, t_s: float, dt_s: float, rate_radps: float) -> None:
        self._turn_rate += (rate_radps - self._turn_rate) * min(1.0, dt_s * 2.0 * math.pi * TURN_SMOOTH_HZ)
        if abs(self._turn_rate) >= self.params.turn_rate_radps:
            self._turn_rad = (self._turn_rad or 0.0) + rate_radps * dt_s
            return
        angle = self._turn_rad
        if angle is None:
            return
        self._turn_rad = None
        turn_deg = math.degrees(angle)
        if abs(turn_deg) >= self.params.turn_min_deg:
            self._reset_filters()  # the gait's statistics belong to the old facing
            if self.has_belt:
                self.evidence = -self.evidence  # the gait seen so far was the other way round
                self._change(t_s, Cue.TURNED, turn_deg)
            else:  # a turn off the belt, or walking on overground: the gait must say
                self.evidence = 0.0
                self._change(t_s, Cue.TURNED_UNSURE, turn_deg)

    # -- the gait -----------------------------------------------------------------------
    def _gait(self, t_s: float, dt_s: float, front_mps2: float, vertical_mps2: float) -> None:
        p = self.params
        if not self._is_primed:  # start the band-pass at the current level, not from zero
            self._mean_v, self._mean_f = vertical_mps2, front_mps2
            self._is_primed = True
        hp = min(1.0, dt_s * 2.0 * math.pi * HIGH_PASS_HZ)
        lp = min(1.0, dt_s * 2.0 * math.pi * LOW_PASS_HZ)
        self._mean_v += (vertical_mps2 - self._mean_v) * hp
        self._mean_f += (front_mps2 - self._mean_f) * hp
        v_before = self._v
        self._v += (vertical_mps2 - self._mean_v - self._v) * lp
        self._f += (front_mps2 - self._mean_f - self._f) * lp
        jerk = (self._v - v_before) / dt_s
        k = min(1.0, dt_s / p.gait_tau_s)
        self._jerk_f += (jerk * self._f - self._jerk_f) * k
        self._jerk2 += (jerk * jerk - self._jerk2) * k
        self._f2 += (self._f * self._f - self._f2) * k
        self._v2 += (self._v * self._v - self._v2) * k
        self._weight += (1.0 - self._weight) * k
        self._warm_s += dt_s
        steps = self.steps
        if steps.period_s is None or t_s - steps.last_step_s > STEPPING_S or self._warm_s < p.gait_tau_s:
            self.gait = "none"
            return
        self.step_hz = step_hz = 1.0 / steps.period_s
        self.bounce_mps2 = bounce_mps2 = math.sqrt(self._v2 / self._weight)
        norm = math.sqrt(self._jerk2 * self._f2)
        self.raw_correlation = self._jerk_f / norm if norm > 0.0 else 0.0
        if step_hz <= p.walk_max_step_hz and bounce_mps2 <= p.walk_max_vertical_mps2:
            sign, self.gait = 1.0, "walking"
        elif step_hz >= p.run_min_step_hz and bounce_mps2 >= p.run_min_vertical_mps2:
            sign, self.gait = -1.0, "running"
        else:
            self.gait = "unsure"
            return
        self.correlation = sign * self.raw_correlation
        if abs(self.correlation) < p.min_correlation:
            return
        self.evidence = max(-1.0, min(1.0, self.evidence + self.correlation * dt_s / p.evidence_s))
        if self.evidence >= 1.0 and self.state is not Direction.FORWARD:
            self._change(t_s, Cue.GAIT_FORWARD)
        elif self.evidence <= -1.0 and self.state is not Direction.BACKWARD:
            self._change(t_s, Cue.GAIT_BACKWARD)

    def _change(self, t_s: float, cue: Cue, turn_deg: float | None = None) -> None:
        self.state = next_direction(self.state, cue)
        self.changes.append(Change(t_s, self.state, cue, turn_deg))
