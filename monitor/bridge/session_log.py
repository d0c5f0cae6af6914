"""The session log on disk: SQLite in WAL mode, one transaction per event.

Each session event (started, a checkpoint every few seconds, a trip, ended) is
committed on its own with synchronous=FULL, so a power cut loses at most the
event being written, and SQLite's journal keeps the file consistent. A session
left open by a crash or a power cut is closed when the log is next opened, at
its last checkpoint, and marked "interrupted".

One writer (the bridge's status thread) and any number of readers (dashboard
requests, each with its own connection: WAL lets them read while it writes).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from monitor.bridge.sessions import Event, SessionEnded, SessionProgress, SessionStarted, SessionTotals, TripSeen

SCHEMA_VERSION = 2  # 2: steadiness and the backward ceiling per session (added to a version 1 log on opening)
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    start_wall REAL NOT NULL,      -- unix seconds
    end_wall REAL,                 -- NULL while the session is open
    last_active_wall REAL NOT NULL,
    forward_s REAL NOT NULL DEFAULT 0,
    backward_s REAL NOT NULL DEFAULT 0,
    distance_m REAL NOT NULL DEFAULT 0,
    top_speed_mps REAL NOT NULL DEFAULT 0,
    trips INTEGER NOT NULL DEFAULT 0,
    ended TEXT                     -- "idle" (the belt stood), "interrupted" (the bridge stopped)
);
CREATE TABLE IF NOT EXISTS trips (
    id INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES sessions(id),
    wall_time REAL NOT NULL,
    t_s REAL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    describe TEXT NOT NULL,
    values_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trips_by_time ON trips (wall_time);
"""
# Steadiness per session (NULL: not measured), added to a log written by an older bridge.
STEADINESS_COLUMNS = ("forward_step_cv", "forward_sway_radps", "backward_step_cv", "backward_sway_radps",
                      "backward_ceiling_mps")


class SessionLogError(Exception):
    """The log cannot be opened or written; the message says where and what to check."""


@dataclass(frozen=True)
class SessionRow:
    id: int
    start_wall: float
    end_wall: float | None
    last_active_wall: float
    forward_s: float
    backward_s: float
    distance_m: float
    top_speed_mps: float
    trips: int
    ended: str | None
    forward_step_cv: float | None = None
    forward_sway_radps: float | None = None
    backward_step_cv: float | None = None
    backward_sway_radps: float | None = None
    backward_ceiling_mps: float | None = None


@dataclass(frozen=True)
class TripRow:
    id: int
    session_id: int | None
    wall_time: float
    t_s: float | None
    reason: str
    detail: str
    describe: str
    values: dict


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in WAL mode with full sync; SessionLogError when the file cannot be used."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), timeout=5.0, isolation_level=None,  # transactions are explicit
                             check_same_thread=False)  # one writer at a time: the bridge holds a lock
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db
    except (OSError, sqlite3.OperationalError) as err:
        raise SessionLogError(f"the session log {path} cannot be opened ({err}); check that its folder "
                              f"exists and is writable by the bridge's user") from None
    except sqlite3.DatabaseError as err:
        raise SessionLogError(f"the session log {path} is not a usable SQLite file ({err}); "
                              f"move it away to start a new one") from None
    except (OSError, sqlite3.Error) as err:
        raise SessionLogError(f"the session log {path} cannot be opened ({err}); check that its folder "
                              f"exists and is writable by the bridge's user") from None


class SessionLog:
    """Writes session events; opened once by the bridge, used from one thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.db = connect(path)
        self._open_id: int | None = None
        try:
            self.db.executescript(SCHEMA)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, SCHEMA_VERSION):
                raise SessionLogError(f"the session log {path} was written by a newer treadguard "
                                      f"(schema {version}); move it away to start a new one")
            self._add_steadiness_columns()
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.closed_interrupted = self._close_interrupted()
        except sqlite3.DatabaseError as err:
            raise SessionLogError(f"the session log {path} is not a usable SQLite file ({err}); "
                                  f"move it away to start a new one") from None

    def _add_steadiness_columns(self) -> None:
        have = {row[1] for row in self.db.execute("PRAGMA table_info(sessions)")}
        for column in STEADINESS_COLUMNS:
            if column not in have:
                self.db.execute(f"ALTER TABLE sessions ADD COLUMN {column} REAL")

    def _close_interrupted(self) -> int:
        with self._transaction():
            cursor = self.db.execute("UPDATE sessions SET end_wall = last_active_wall, ended = 'interrupted' "
                                     "WHERE end_wall IS NULL")
            return cursor.rowcount

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def record(self, event: Event) -> None:
        """One event, one transaction."""
        try:
            with self._transaction():
                if isinstance(event, SessionStarted):
                    self._open_id = self.db.execute(
                        "INSERT INTO sessions (start_wall, last_active_wall) VALUES (?, ?)",
                        (event.totals.start_wall, event.totals.last_active_wall)).lastrowid
                elif isinstance(event, (SessionProgress, SessionEnded)):
                    self._update(event.totals, ended="idle" if isinstance(event, SessionEnded) else None)
                    if isinstance(event, SessionEnded):
                        self._open_id = None
                elif isinstance(event, TripSeen):
                    trip = event.trip
                    self.db.execute(
                        "INSERT INTO trips (session_id, wall_time, t_s, reason, detail, describe, values_json) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (self._open_id, event.wall_time, trip.t_s, trip.reason, trip.detail, trip.describe,
                         json.dumps(trip.values)))
                    self._update(event.totals, ended=None)
        except sqlite3.Error as err:
            raise SessionLogError(f"the session log {self.path} could not be written ({err}); "
                                  f"check free space and permissions") from None

    def _update(self, totals: SessionTotals, ended: str | None) -> None:
        if self._open_id is None:
            return
        forward, backward = totals.steadiness("forward"), totals.steadiness("backward")
        self.db.execute(
            "UPDATE sessions SET last_active_wall = ?, forward_s = ?, backward_s = ?, distance_m = ?, "
            "top_speed_mps = ?, trips = ?, end_wall = ?, ended = ?, forward_step_cv = ?, forward_sway_radps = ?, "
            "backward_step_cv = ?, backward_sway_radps = ?, backward_ceiling_mps = ? WHERE id = ?",
            (totals.last_active_wall, totals.forward_s, totals.backward_s, totals.distance_m,
             totals.top_speed_mps, totals.trips, totals.last_active_wall if ended else None, ended,
             *forward, *backward, totals.backward_ceiling_mps, self._open_id))

    def close(self) -> None:
        """A clean stop: the open session ends now, as interrupted."""
        try:
            self._close_interrupted()
            self.db.close()
        except sqlite3.Error:
            pass


def read_sessions(path: str | Path, limit: int = 50) -> list[SessionRow]:
    """The newest sessions first; an empty list when there is no log yet."""
    if not Path(path).exists():
        return []
    db = _reader(path)
    try:
        have = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
        extra = "".join(f", {c}" if c in have else ", NULL" for c in STEADINESS_COLUMNS)  # an older log
        rows = db.execute("SELECT id, start_wall, end_wall, last_active_wall, forward_s, backward_s, distance_m, "
                          f"top_speed_mps, trips, ended{extra} FROM sessions ORDER BY start_wall DESC LIMIT ?",
                          (limit,)).fetchall()
    finally:
        db.close()
    return [SessionRow(*row) for row in rows]


def read_trips(path: str | Path, limit: int = 50) -> list[TripRow]:
    """The newest trips first."""
    if not Path(path).exists():
        return []
    db = _reader(path)
    try:
        rows = db.execute("SELECT id, session_id, wall_time, t_s, reason, detail, describe, values_json "
                          "FROM trips ORDER BY wall_time DESC LIMIT ?", (limit,)).fetchall()
    finally:
        db.close()
    return [TripRow(*row[:7], values=json.loads(row[7])) for row in rows]


def newest_trip_id(path: str | Path) -> int:
    """The id of the newest trip (0 for none): the page reloads when it changes."""
    if not Path(path).exists():
        return 0
    db = _reader(path)
    try:
        return db.execute("SELECT coalesce(max(id), 0) FROM trips").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def check_integrity(path: str | Path) -> str:
    """SQLite's own check: "ok" for a consistent file."""
    db = _reader(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def _reader(path: str | Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=5.0)
    return db
