"""The session log on disk: every event is one committed transaction, a session a crash
left open is closed on the next start, and a kill -9 mid-session loses nothing finished."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monitor.bridge.session_log import SessionLog, SessionLogError, check_integrity, read_sessions, read_trips
from monitor.bridge.sessions import SessionEnded, SessionProgress, SessionStarted, SessionTotals, TripSeen
from monitor.bridge.snapshot import TripInfo

REPO = Path(__file__).resolve().parent.parent


def test_a_session_and_its_trip_are_written_and_read_back(tmp_path):
    db = tmp_path / "sessions.sqlite"
    log = SessionLog(db)
    start = SessionTotals(start_wall=1000.0, last_active_wall=1000.0)
    log.record(SessionStarted(start))
    trip = TripInfo(1010.0, 10.0, "stumble", "stumble_detected", "tripped at 10.000 s: stumble", {"jolt": 9.5})
    log.record(TripSeen(1010.0, trip, SessionTotals(1000.0, 1010.0, forward_s=10.0, distance_m=12.0, trips=1)))
    log.record(SessionEnded(SessionTotals(1000.0, 1020.0, forward_s=18.0, backward_s=2.0, distance_m=22.0,
                                          top_speed_mps=1.4, trips=1)))
    log.close()
    [session] = read_sessions(db)
    assert (session.start_wall, session.end_wall, session.ended) == (1000.0, 1020.0, "idle")
    assert (session.forward_s, session.backward_s, session.distance_m, session.top_speed_mps, session.trips) == \
        (18.0, 2.0, 22.0, 1.4, 1)
    [seen] = read_trips(db)
    assert (seen.session_id, seen.reason, seen.detail, seen.values) == (session.id, "stumble", "stumble_detected",
                                                                        {"jolt": 9.5})
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_session_left_open_is_closed_at_its_last_checkpoint_as_interrupted(tmp_path):
    db = tmp_path / "sessions.sqlite"
    log = SessionLog(db)
    log.record(SessionStarted(SessionTotals(1000.0, 1000.0)))
    log.record(SessionProgress(SessionTotals(1000.0, 1030.0, forward_s=30.0, distance_m=33.0)))
    log.db.close()  # no clean close: as after a crash
    reopened = SessionLog(db)
    assert reopened.closed_interrupted == 1
    [session] = read_sessions(db)
    assert (session.end_wall, session.ended, session.distance_m) == (1030.0, "interrupted", 33.0)


def test_a_file_that_is_not_a_session_log_gets_a_message_not_a_traceback(tmp_path):
    db = tmp_path / "sessions.sqlite"
    db.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(SessionLogError, match="not a usable SQLite file.*move it away"):
        SessionLog(db)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SessionLogError, match="cannot be opened.*writable"):
        SessionLog(tmp_path / "a-file" / "sessions.sqlite")  # its folder is a file


WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from monitor.bridge.session_log import SessionLog
    from monitor.bridge.sessions import SessionProgress, SessionStarted, SessionTotals, TripSeen
    from monitor.bridge.snapshot import TripInfo
    log = SessionLog({db!r})
    log.record(SessionStarted(SessionTotals(1000.0, 1000.0)))
    trip = TripInfo(1005.0, 5.0, "drift", "drift_carried", "tripped at 5.000 s: drift")
    log.record(TripSeen(1005.0, trip, SessionTotals(1000.0, 1005.0, distance_m=5.0, trips=1)))
    k = 0
    while True:  # checkpoints as fast as it can, until it is killed in the middle of one
        k += 1
        log.record(SessionProgress(SessionTotals(1000.0, 1005.0 + k, distance_m=5.0 + k, trips=1)))
        if k == 50:
            print("ready", flush=True)
""")


def test_kill_9_in_the_middle_of_a_session_keeps_every_finished_event_and_a_consistent_file(tmp_path):
    db = tmp_path / "sessions.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(repo=str(REPO), db=str(db))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert check_integrity(db) == "ok"
    log = SessionLog(db)  # what the bridge does when it starts again
    assert log.closed_interrupted == 1
    [session] = read_sessions(db)
    [trip] = read_trips(db)
    assert trip.reason == "drift" and trip.session_id == session.id
    assert session.ended == "interrupted" and session.trips == 1
    # the last committed checkpoint survived whole: its distance and its time belong together
    assert session.distance_m >= 5.0 + 50 and session.last_active_wall - 1000.0 == session.distance_m
    assert session.end_wall == session.last_active_wall
    log.close()
    assert check_integrity(db) == "ok"
