"""Sessions from snapshots: when they start and end, and what they add up, at each threshold."""

from __future__ import annotations

import pytest

from monitor.bridge.sessions import (
    Phase,
    SessionEnded,
    SessionProgress,
    SessionRules,
    SessionStarted,
    SessionTracker,
    TripSeen,
)
from monitor.bridge.snapshot import Snapshot, TripInfo

RULES = SessionRules(moving_mps=0.1, idle_s=60.0, max_gap_s=2.0, checkpoint_s=10.0)


def snap(t: float, belt: float | None = 0.0, *, state: str = "unarmed", walking: str = "forward",
         trip: TripInfo | None = None) -> Snapshot:
    return Snapshot(wall_time=t, t_s=t, state=state, relay_energized=state == "armed", walking=walking,
                    belt_mps=belt, rear_margin_m=None, imu_age_s=0.0, trip=trip, trips=0, problems=(), loop={})


def feed(tracker: SessionTracker, snapshots) -> list:
    events = []
    for s in snapshots:
        events += tracker.on_snapshot(s)
    return events


@pytest.mark.parametrize("belt_mps, starts", [(0.099, False), (0.1, True), (-0.1, True)])
def test_a_session_starts_when_the_belt_reaches_the_moving_speed(belt_mps, starts):
    tracker = SessionTracker(RULES)
    events = tracker.on_snapshot(snap(1000.0, belt_mps))
    assert [type(e) for e in events] == ([SessionStarted] if starts else [])
    assert (tracker.phase is Phase.WALKING) is starts


def test_arming_starts_a_session_before_the_belt_moves():
    tracker = SessionTracker(RULES)
    assert feed(tracker, [snap(0.0)]) == []
    events = tracker.on_snapshot(snap(0.25, state="armed"))
    assert [type(e) for e in events] == [SessionStarted]


@pytest.mark.parametrize("stood_s, ends", [(59.75, False), (60.0, True)])
def test_a_session_ends_once_the_belt_has_stood_idle_s_and_ends_when_it_last_moved(stood_s, ends):
    tracker = SessionTracker(RULES)
    moving = [snap(t * 0.25, 1.0) for t in range(41)]  # 10 s at 1 m/s
    standing = [snap(10.0 + k * 0.25, 0.0) for k in range(1, int(stood_s / 0.25) + 1)]
    events = feed(tracker, moving + standing)
    ended = [e for e in events if isinstance(e, SessionEnded)]
    assert bool(ended) is ends
    if ends:
        totals = ended[0].totals
        assert totals.start_wall == 0.0 and totals.last_active_wall == 10.0 and totals.duration_s == 10.0


def test_distance_and_time_forward_and_backward_add_up():
    tracker = SessionTracker(RULES)
    forward = [snap(t * 0.25, 1.2) for t in range(41)]  # 10 s forward at 1.2 m/s
    backward = [snap(10.0 + t * 0.25, 0.8, walking="backward") for t in range(1, 21)]  # 5 s backward at 0.8
    feed(tracker, forward + backward)
    totals = tracker.totals
    assert totals.forward_s == pytest.approx(10.0) and totals.backward_s == pytest.approx(5.0)
    # 12 m forward, the quarter second of slowing down at the mean speed, 4.75 s at 0.8 m/s
    assert totals.distance_m == pytest.approx(12.0 + (1.2 + 0.8) / 2 * 0.25 + 0.8 * 4.75)
    assert totals.top_speed_mps == pytest.approx(1.2)


@pytest.mark.parametrize("gap_s, counted", [(2.0, True), (2.01, False)])
def test_a_gap_longer_than_max_gap_s_counts_as_nothing(gap_s, counted):
    tracker = SessionTracker(RULES)
    feed(tracker, [snap(0.0, 1.0), snap(gap_s, 1.0)])
    assert tracker.totals.distance_m == pytest.approx(gap_s if counted else 0.0)


def test_a_trip_is_counted_once_while_it_latches_and_again_after_a_re_arm():
    tracker = SessionTracker(RULES)
    stumble = TripInfo(5.0, 5.0, "stumble", "stumble_detected", "tripped at 5.000 s: stumble")
    fall = TripInfo(9.0, 9.0, "fall", "fall_detected", "tripped at 9.000 s: fall")
    events = feed(tracker, [snap(0.0, 1.0, state="armed"), snap(5.0, 1.0, state="tripped", trip=stumble),
                            snap(5.25, 0.5, state="tripped", trip=stumble), snap(6.0, 0.5, state="unarmed"),
                            snap(7.0, 1.0, state="armed"), snap(9.0, 1.0, state="tripped", trip=fall)])
    trips = [e for e in events if isinstance(e, TripSeen)]
    assert [t.trip.reason for t in trips] == ["stumble", "fall"]
    assert tracker.totals.trips == 2


def test_a_trip_with_no_session_open_opens_one():
    tracker = SessionTracker(RULES)
    trip = TripInfo(None, 1.0, "sensor_fault", "imu_stale", "tripped at 1.000 s: sensor_fault")
    events = tracker.on_snapshot(snap(100.0, None, state="tripped", trip=trip))
    assert [type(e) for e in events] == [SessionStarted, TripSeen]
    assert events[1].wall_time == 100.0  # the trip's own wall time was missing: when it was seen


def test_without_a_belt_sensor_armed_time_is_walking_time():
    tracker = SessionTracker(RULES)
    feed(tracker, [snap(t * 0.25, None, state="armed") for t in range(21)])
    assert tracker.totals.forward_s == pytest.approx(5.0) and tracker.totals.distance_m == 0.0


def test_checkpoints_every_checkpoint_s_while_walking():
    tracker = SessionTracker(RULES)
    events = feed(tracker, [snap(t * 0.25, 1.0) for t in range(121)])  # 30 s
    assert [type(e) for e in events] == [SessionStarted] + [SessionProgress] * 3


@pytest.mark.parametrize("quiet_s, ends", [(59.9, False), (60.0, True)])
def test_when_the_daemon_goes_quiet_the_session_ends_after_idle_s(quiet_s, ends):
    tracker = SessionTracker(RULES)
    feed(tracker, [snap(0.0, 1.0), snap(0.25, 1.0)])
    events = tracker.on_quiet(0.25 + quiet_s)
    assert [type(e) for e in events] == ([SessionEnded] if ends else [])
    assert tracker.on_quiet(1000.0) == ([] if ends else [SessionEnded(tracker.totals)])
