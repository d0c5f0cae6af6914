"""Walking sessions from the stream of snapshots: when one starts and ends, and what it held.

A session starts when the belt moves (or the monitor arms) and ends once the belt
has stood for `idle_s`; its end is the last moment the belt moved. Between
snapshots the belt's speed is integrated into distance and time walking forward
or backward; a gap longer than `max_gap_s` (the bridge or the daemon was away)
counts as nothing rather than as a guess. Pure: snapshots and times in, events
out; `monitor.bridge.session_log` writes the events down.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from monitor.bridge.snapshot import Snapshot, TripInfo


class Phase(enum.Enum):
    IDLE = "idle"
    WALKING = "walking"  # a session is open


@dataclass(frozen=True)
class SessionTotals:
    start_wall: float
    last_active_wall: float  # the last time the belt moved (or the monitor was armed)
    forward_s: float = 0.0
    backward_s: float = 0.0
    distance_m: float = 0.0
    top_speed_mps: float = 0.0
    trips: int = 0
    # Steadiness, time-weighted over the moving time it was measured in, by direction: sums of
    # value x seconds, and the seconds.
    forward_cv_s: float = 0.0
    forward_sway_s: float = 0.0
    forward_measured_s: float = 0.0
    backward_cv_s: float = 0.0
    backward_sway_s: float = 0.0
    backward_measured_s: float = 0.0
    backward_ceiling_mps: float | None = None  # the backward ceiling at the session's last snapshot

    @property
    def duration_s(self) -> float:
        return self.last_active_wall - self.start_wall

    def steadiness(self, direction: str) -> tuple[float | None, float | None]:
        """(step-time variability, sway in rad/s) walking this way over the session; None: not measured."""
        seconds = getattr(self, f"{direction}_measured_s")
        if seconds <= 0:
            return None, None
        return getattr(self, f"{direction}_cv_s") / seconds, getattr(self, f"{direction}_sway_s") / seconds


@dataclass(frozen=True)
class SessionStarted:
    totals: SessionTotals


@dataclass(frozen=True)
class SessionProgress:
    totals: SessionTotals


@dataclass(frozen=True)
class TripSeen:
    wall_time: float
    trip: TripInfo
    totals: SessionTotals  # the session it happened in, trip counted


@dataclass(frozen=True)
class SessionEnded:
    totals: SessionTotals


Event = SessionStarted | SessionProgress | TripSeen | SessionEnded


@dataclass(frozen=True)
class SessionRules:
    moving_mps: float = 0.1
    idle_s: float = 120.0
    max_gap_s: float = 2.0
    checkpoint_s: float = 10.0


class SessionTracker:
    """Follows snapshots; each call returns the events it caused, in order."""

    def __init__(self, rules: SessionRules = SessionRules()) -> None:
        self.rules = rules
        self.phase = Phase.IDLE
        self.totals: SessionTotals | None = None  # the open session, else the last one
        self._previous: Snapshot | None = None
        self._last_checkpoint_wall = 0.0
        self._last_trip_key: tuple | None = None

    def _is_active(self, snapshot: Snapshot) -> bool:
        if snapshot.belt_mps is None:  # no belt sensor: armed is the best sign of walking
            return snapshot.is_armed
        return abs(snapshot.belt_mps) >= self.rules.moving_mps

    def _just_armed(self, snapshot: Snapshot) -> bool:
        return snapshot.is_armed and (self._previous is None or not self._previous.is_armed)

    def on_snapshot(self, snapshot: Snapshot) -> list[Event]:
        """The one transition function: the phase and totals after this snapshot, and the events."""
        events: list[Event] = []
        now = snapshot.wall_time
        previous = self._previous
        is_active = self._is_active(snapshot)
        if self.phase is Phase.WALKING and self.totals is not None:
            if previous is not None and 0 < now - previous.wall_time <= self.rules.max_gap_s:
                self.totals = self._integrate(self.totals, previous, snapshot)
            if is_active:
                self.totals = replace(self.totals, last_active_wall=now)
            elif now - self.totals.last_active_wall >= self.rules.idle_s:
                events.append(SessionEnded(self.totals))
                self.phase = Phase.IDLE
        if self.phase is Phase.IDLE and (is_active or self._just_armed(snapshot)):
            self.totals = SessionTotals(start_wall=now, last_active_wall=now)
            self.phase = Phase.WALKING
            self._last_checkpoint_wall = now
            events.append(SessionStarted(self.totals))
        trip = snapshot.trip
        if trip is not None and self._trip_key(trip) != self._last_trip_key:
            self._last_trip_key = self._trip_key(trip)
            if self.phase is Phase.IDLE:  # a trip with no session open: it opens one
                self.totals = SessionTotals(start_wall=now, last_active_wall=now)
                self.phase = Phase.WALKING
                self._last_checkpoint_wall = now
                events.append(SessionStarted(self.totals))
            assert self.totals is not None
            self.totals = replace(self.totals, trips=self.totals.trips + 1)
            events.append(TripSeen(trip.wall_time or now, trip, self.totals))
        elif trip is None:
            self._last_trip_key = None
        if (self.phase is Phase.WALKING and self.totals is not None and not events
                and now - self._last_checkpoint_wall >= self.rules.checkpoint_s):
            self._last_checkpoint_wall = now
            events.append(SessionProgress(self.totals))
        self._previous = snapshot
        return events

    def on_quiet(self, now_wall: float) -> list[Event]:
        """No snapshots (the daemon is away): end an open session once it has stood idle_s."""
        if (self.phase is Phase.WALKING and self.totals is not None
                and now_wall - self.totals.last_active_wall >= self.rules.idle_s):
            self.phase = Phase.IDLE
            self._previous = None
            return [SessionEnded(self.totals)]
        return []

    @staticmethod
    def _trip_key(trip: TripInfo) -> tuple:
        return (trip.wall_time, trip.t_s, trip.reason, trip.detail)

    def _integrate(self, totals: SessionTotals, a: Snapshot, b: Snapshot) -> SessionTotals:
        dt_s = b.wall_time - a.wall_time
        speeds = [abs(s.belt_mps) for s in (a, b) if s.belt_mps is not None]
        mean_mps = sum(speeds) / len(speeds) if speeds else 0.0
        is_moving = (mean_mps >= self.rules.moving_mps) if speeds else b.is_armed
        forward_s, backward_s = totals.forward_s, totals.backward_s
        if is_moving:
            if b.walking == "backward":
                backward_s += dt_s
            else:
                forward_s += dt_s
        steady: dict[str, float] = {}
        if is_moving and b.walking in ("forward", "backward") and b.step_cv is not None and b.sway_radps is not None:
            d = b.walking
            steady = {f"{d}_cv_s": getattr(totals, f"{d}_cv_s") + b.step_cv * dt_s,
                      f"{d}_sway_s": getattr(totals, f"{d}_sway_s") + b.sway_radps * dt_s,
                      f"{d}_measured_s": getattr(totals, f"{d}_measured_s") + dt_s}
        return replace(totals, forward_s=forward_s, backward_s=backward_s,
                       distance_m=totals.distance_m + mean_mps * dt_s,
                       top_speed_mps=max([totals.top_speed_mps] + speeds),
                       backward_ceiling_mps=b.ceiling_mps if b.ceiling_mps is not None else totals.backward_ceiling_mps,
                       **steady)
