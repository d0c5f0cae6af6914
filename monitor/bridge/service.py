"""The bridge's parts wired together: status socket in; session log, dashboard and MQTT out.

Threads: the status client (reads the socket, updates the live state and the
session log, offers MQTT messages), a housekeeping timer (ends a session when the
daemon has gone quiet), the dashboard server, and paho's loop with the MQTT
publisher. None of them ever writes to the daemon: its socket is read-only, and
the bridge subscribes to nothing on MQTT.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

from monitor.bridge.dashboard import Dashboard, DashboardServer, PlotMaker
from monitor.bridge.live import LiveState, state_message
from monitor.bridge.mqtt import MqttPublisher
from monitor.bridge.session_log import SessionLog, SessionLogError, read_trips
from monitor.bridge.sessions import Phase, SessionRules, SessionTracker, TripSeen
from monitor.bridge.snapshot import Snapshot, TripInfo
from monitor.bridge.status_client import StatusClient
from monitor.bridge.trip_words import TripWords, iso_time, local_time


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")  # one write: lines of other threads never run into it
    sys.stderr.flush()


class Bridge:
    def __init__(self, *, socket_path: str, session_db: str, rules: SessionRules, silence_s: float,
                 state_interval_s: float, publisher: MqttPublisher | None = None,
                 dashboard_bind: str | None = None, dashboard_port: int = 0, dashboard_hosts: tuple[str, ...] = (),
                 device_id: str = "treadmill",
                 trip_dir: str = "", plot: PlotMaker | None = None, words: TripWords | None = None,
                 bench: tuple[str, str] | None = None,
                 say: Callable[[str], None] = _say, monotonic: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.say = say
        self.words = words or TripWords()
        self.monotonic = monotonic
        self.wall_clock = wall_clock
        self.live = LiveState()
        self.log = SessionLog(session_db)
        if self.log.closed_interrupted:
            say(f"treadguard bridge: {self.log.closed_interrupted} session(s) left open by the last run were "
                f"closed at their last checkpoint")
        self.tracker = SessionTracker(rules)
        self._lock = threading.Lock()  # the tracker and the log: the status thread and the timer
        self.publisher = publisher
        self.state_interval_s = state_interval_s
        self._last_published: tuple | None = None
        self._last_published_at = -1e9
        self._log_failed = False
        newest = read_trips(session_db, limit=1)
        if newest:
            t = newest[0]
            self.live.set_last_trip(TripInfo(t.wall_time, t.t_s, t.reason, t.detail, t.describe, t.values))
        # bench: (socket, trip folder) of a desk bench run, followed while the daemon's socket is absent
        self.client = StatusClient(socket_path, self.on_snapshot, self.on_link, silence_s=silence_s,
                                   wall_clock=wall_clock, fallback=bench[0] if bench else None)

        def trip_folder() -> str:  # the records of whichever is followed: the daemon's, or the bench's
            return bench[1] if bench is not None and self.client.path == bench[0] else trip_dir
        self.server = None
        if dashboard_bind is not None:
            dashboard = Dashboard(self.live, device_id=device_id, session_db=session_db, trip_dir=trip_folder,
                                  plot=plot, words=self.words)
            self.server = DashboardServer(dashboard, dashboard_bind, dashboard_port,
                                          extra_hosts=tuple(dashboard_hosts), say=say)
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._housekeeping, name="bridge-housekeeping", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Bridge":
        if self.publisher is not None:
            self.publisher.start()
        if self.server is not None:
            self.server.start()
        self.client.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._timer.join(2.0)
        self.client.stop()
        if self.server is not None:
            self.server.stop()
        if self.publisher is not None:
            self.publisher.stop()
        with self._lock:
            self.log.close()

    # -- the status thread ---------------------------------------------------------------------------
    def on_snapshot(self, snapshot: Snapshot) -> None:
        with self._lock:
            events = self.tracker.on_snapshot(snapshot)
            self._record(events)
            self.live.update(snapshot, self.tracker.totals, self.tracker.phase is Phase.WALKING)
        for event in events:
            if isinstance(event, TripSeen) and self.publisher is not None:
                self.publisher.offer_trip(self.trip_event(event, snapshot.walking))
        self._publish_state()

    def trip_event(self, event: TripSeen, walking: str | None) -> dict:
        """The Home Assistant event of a trip: its plain words and its wall-clock time."""
        trip = event.trip
        words = self.words.sentence(trip.detail, trip.values, walking)
        return {"event_type": trip.reason, "detail": trip.detail,
                "describe": f"tripped at {local_time(event.wall_time)}: {words}",
                "time": iso_time(event.wall_time), "wall_time": event.wall_time, "values": trip.values}

    def on_link(self, is_live: bool, why: str) -> None:
        self.live.set_link(is_live, why)
        if self.publisher is not None:
            self.publisher.set_daemon_live(is_live)
        self._publish_state(force=True)

    def _record(self, events: list) -> None:
        for event in events:
            try:
                self.log.record(event)
            except SessionLogError as err:
                if not self._log_failed:
                    self.say(f"treadguard bridge: {err}")
                self._log_failed = True

    def _publish_state(self, force: bool = False) -> None:
        if self.publisher is None:
            return
        message = state_message(self.live.view())
        key = (message["state"], message["session_open"], message["last_trip_reason"], message["daemon_live"],
               message["walking"], message["above_backward_ceiling"])
        now = self.monotonic()
        if force or key != self._last_published or now - self._last_published_at >= self.state_interval_s:
            self._last_published = key
            self._last_published_at = now
            self.publisher.offer_state(message)

    # -- the timer ------------------------------------------------------------------------------------
    def _housekeeping(self) -> None:
        while not self._stop.wait(1.0):
            if self.client.is_live:
                continue
            with self._lock:
                events = self.tracker.on_quiet(self.wall_clock())
                self._record(events)
                if events:
                    self.live.set_session(self.tracker.totals, False)
            if events:
                self._publish_state(force=True)
