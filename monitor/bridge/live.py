"""What the bridge knows right now: the newest snapshot, whether the socket is live,
and the last few minutes of belt speed and walker margin for the live chart.

Written by the status thread, read by dashboard requests and the MQTT state; one
lock, held only to copy. Memory is flat: the chart keeps a fixed number of points.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any

from monitor.bridge.sessions import SessionTotals
from monitor.bridge.snapshot import Snapshot, TripInfo

CHART_SECONDS = 120.0
CHART_POINTS = 480  # 2 minutes at 4 snapshots a second


@dataclass(frozen=True)
class LiveView:
    snapshot: Snapshot | None
    is_live: bool
    why_not_live: str
    session: SessionTotals | None
    is_session_open: bool
    last_trip: TripInfo | None
    chart: list[tuple[float, float | None, float | None]]  # (wall_time, belt_mps, rear_margin_m)


class LiveState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._is_live = False
        self._why = "not connected yet"
        self._session: SessionTotals | None = None
        self._is_session_open = False
        self._last_trip: TripInfo | None = None
        self._chart: collections.deque = collections.deque(maxlen=CHART_POINTS)

    def update(self, snapshot: Snapshot, session: SessionTotals | None, is_session_open: bool) -> None:
        with self._lock:
            self._snapshot = snapshot
            self._session = session
            self._is_session_open = is_session_open
            if snapshot.trip is not None:
                self._last_trip = snapshot.trip
            self._chart.append((snapshot.wall_time, snapshot.belt_mps, snapshot.rear_margin_m))

    def set_session(self, session: SessionTotals | None, is_session_open: bool) -> None:
        with self._lock:
            self._session = session
            self._is_session_open = is_session_open

    def set_link(self, is_live: bool, why: str) -> None:
        with self._lock:
            self._is_live = is_live
            self._why = why

    def set_last_trip(self, trip: TripInfo | None) -> None:
        with self._lock:
            self._last_trip = trip

    def view(self) -> LiveView:
        with self._lock:
            return LiveView(self._snapshot, self._is_live, self._why, self._session, self._is_session_open,
                            self._last_trip, list(self._chart))


def state_message(view: LiveView) -> dict[str, Any]:
    """The JSON published on the MQTT state topic and served at /api/live (without the chart)."""
    snapshot = view.snapshot
    live = view.is_live and snapshot is not None
    session = view.session
    return {
        "state": snapshot.state if live else "unknown",
        "armed": bool(live and snapshot.is_armed),
        "tripped": bool(live and snapshot.is_tripped),
        "relay_energized": bool(live and snapshot.relay_energized),
        "walking": snapshot.walking if snapshot else None,
        "backward_ceiling_mps": snapshot.ceiling_mps if snapshot else None,
        "above_backward_ceiling": bool(live and snapshot.ceiling_over),
        "step_time_cv_pct": round(100 * snapshot.step_cv, 2) if live and snapshot.step_cv is not None else None,
        "sway_radps": snapshot.sway_radps if live else None,
        "belt_mps": snapshot.belt_mps if live else None,
        "rear_margin_m": snapshot.rear_margin_m if live else None,
        "problems": list(snapshot.problems) if live else [],
        "trips_since_start": snapshot.trips if snapshot else 0,
        "session_open": view.is_session_open,
        "session_time_s": round(session.duration_s, 1) if session else None,
        "session_distance_m": round(session.distance_m, 1) if session else None,
        "last_trip_reason": view.last_trip.reason if view.last_trip else None,
        "last_trip_detail": view.last_trip.detail if view.last_trip else None,
        "wall_time": snapshot.wall_time if snapshot else None,
        "daemon_live": view.is_live,
    }
