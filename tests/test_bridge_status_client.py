"""The status socket client against a server speaking the protocol: it reads, never writes,
ignores what it does not know, and comes back by itself when the daemon restarts."""

from __future__ import annotations

import json
import threading

import pytest

from monitor.bridge.snapshot import SnapshotError, parse_snapshot
from monitor.bridge.status_client import Backoff, StatusClient
from tests.status_fixture import StatusFixture, snapshot


def test_a_snapshot_reads_the_protocol_and_ignores_unknown_keys():
    line = json.dumps(snapshot(state="tripped", belt_mps=1.25, trips=2, problems=["imu_stale"],
                               trip={"t_s": 3.0, "wall_time": 1e9, "reason": "fall", "detail": "fall_detected",
                                     "describe": "tripped at 3.000 s: fall", "values": {"drop": 0.4, "bad": "x"}}))
    s = parse_snapshot(line, received_wall_s=5.0)
    assert s.is_tripped and not s.is_armed and s.belt_mps == 1.25 and s.trips == 2 and s.problems == ("imu_stale",)
    assert s.trip.reason == "fall" and s.trip.values == {"drop": 0.4}  # a value that is not a number is left out


def test_a_missing_or_wrong_field_reads_as_not_known_never_as_a_made_up_value():
    s = parse_snapshot('{"v": 1, "state": "armed?", "belt_mps": "fast", "relay_energized": "yes"}', 7.0)
    assert (s.state, s.belt_mps, s.relay_energized, s.wall_time, s.trip) == ("unknown", None, False, 7.0, None)


@pytest.mark.parametrize("line, message", [("not json", "not JSON"), ("[1]", "not a JSON object"),
                                           ('{"v": 2}', "version 2")])
def test_a_line_that_is_not_a_v1_snapshot_is_refused(line, message):
    with pytest.raises(SnapshotError, match=message):
        parse_snapshot(line, 0.0)


def test_backoff_doubles_to_its_limit_and_resets():
    backoff = Backoff(first_s=0.25, max_s=2.0)
    assert [backoff.next_delay_s() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.next_delay_s() == 0.25


class Seen:
    def __init__(self) -> None:
        self.snapshots = []
        self.links = []
        self.event = threading.Condition()

    def snapshot(self, s) -> None:
        with self.event:
            self.snapshots.append(s)
            self.event.notify_all()

    def link(self, is_live: bool, why: str) -> None:
        with self.event:
            self.links.append((is_live, why))
            self.event.notify_all()

    def wait_for(self, predicate, timeout_s: float = 5.0) -> None:
        with self.event:
            assert self.event.wait_for(predicate, timeout_s), (self.links, self.snapshots[-1:])


def test_the_client_follows_the_socket_never_writes_and_reconnects_after_a_daemon_restart(tmp_path):
    path = str(tmp_path / "status.sock")
    seen = Seen()
    client = StatusClient(path, seen.snapshot, seen.link, silence_s=1.0, backoff=Backoff(0.05, 0.2)).start()
    try:
        assert not client.is_live
        server = StatusFixture(path).start()  # the daemon starts after the bridge
        seen.wait_for(lambda: seen.links and seen.links[-1][0])
        server.set(state="armed", belt_mps=1.0)
        seen.wait_for(lambda: seen.snapshots and seen.snapshots[-1].is_armed)
        assert server.received == b""  # not one byte sent to the daemon
        server.stop()  # the daemon restarts
        seen.wait_for(lambda: not seen.links[-1][0])
        server = StatusFixture(path).start()
        seen.wait_for(lambda: seen.links[-1][0] and client.connects >= 2)
        assert server.received == b""
        server.stop()
    finally:
        client.stop()


def test_a_silent_socket_is_not_live(tmp_path):
    path = str(tmp_path / "status.sock")
    server = StatusFixture(path, interval_s=3600).start()  # one snapshot on connect, then nothing
    seen = Seen()
    client = StatusClient(path, seen.snapshot, seen.link, silence_s=0.5, backoff=Backoff(0.05, 0.1)).start()
    try:
        seen.wait_for(lambda: any(not live and "silent for 0.5 s" in why for live, why in seen.links))
    finally:
        client.stop()
        server.stop()
