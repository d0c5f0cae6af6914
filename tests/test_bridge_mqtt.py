"""MQTT for Home Assistant: what discovery announces, and the bridge against a real mosquitto
(with the protocol's stand-in server; tests/test_bridge_end_to_end.py runs the real daemon)."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

from monitor.bridge.broker_link import Event, Link, step
from monitor.bridge.mqtt import BrokerSettings, MqttPublisher, Outbox, Topics, discovery_messages
from monitor.bridge.service import Bridge
from monitor.bridge.sessions import SessionRules
from monitor.safety.verdict import REASONS
from tests.mqtt_support import Broker, Subscriber, free_port, needs_mosquitto
from tests.status_fixture import StatusFixture

TOPICS = Topics("spare_room")


def test_discovery_announces_each_entity_under_the_home_assistant_layout_with_device_and_availability():
    messages = dict(discovery_messages(TOPICS, "1.2.3"))
    expected = {("binary_sensor", "armed"), ("binary_sensor", "tripped"), ("sensor", "belt_speed"),
                ("sensor", "session_time"), ("sensor", "session_distance"), ("sensor", "walker_margin"),
                ("sensor", "last_trip_reason"), ("event", "trip"), ("sensor", "walking"),
                ("sensor", "backward_ceiling"), ("sensor", "step_time_variability"), ("sensor", "trunk_sway")}
    assert {re.match(r"^homeassistant/(\w+)/treadguard_spare_room/(\w+)/config$", t).groups()
            for t in messages} == expected
    ids = [p["unique_id"] for p in messages.values()]
    assert len(set(ids)) == len(ids)
    for payload in messages.values():
        assert payload["availability_topic"] == "treadguard/spare_room/availability"
        assert payload["device"]["identifiers"] == ["treadguard_spare_room"]
        assert payload["device"]["sw_version"] == "1.2.3"
        assert not any("command" in key for key in payload)  # nothing Home Assistant could send back
    units = {t.split("/")[3]: p.get("unit_of_measurement") for t, p in messages.items()}
    assert units["belt_speed"] == "m/s" and units["session_time"] == "s"
    assert units["session_distance"] == "m" and units["walker_margin"] == "m"
    event = messages["homeassistant/event/treadguard_spare_room/trip/config"]
    assert event["state_topic"] == "treadguard/spare_room/trip" and set(REASONS) <= set(event["event_types"])


def test_the_outbox_keeps_the_newest_state_and_drops_the_oldest_events():
    outbox = Outbox(max_events=3)
    for k in range(5):
        outbox.put_latest("state", f"s{k}", retain=True)
        outbox.put_event("trip", f"e{k}")
    latest, events = outbox.take()
    assert latest == [("state", "s4", True)]
    assert events == [("trip", "e2"), ("trip", "e3"), ("trip", "e4")] and outbox.dropped_events == 2


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


def make_bridge(tmp_path, port: int, socket_path: str) -> Bridge:
    publisher = MqttPublisher(BrokerSettings("127.0.0.1", port, keepalive_s=5), TOPICS, "test",
                              say=lambda line: None)
    return Bridge(socket_path=socket_path, session_db=str(tmp_path / "sessions.sqlite"),
                  rules=SessionRules(idle_s=5.0), silence_s=1.0, state_interval_s=0.25, publisher=publisher,
                  say=lambda line: None)


@needs_mosquitto
def test_discovery_is_retained_trips_are_events_and_availability_follows_the_daemon(tmp_path, broker):
    path = str(tmp_path / "status.sock")
    daemon = StatusFixture(path).start()
    bridge = make_bridge(tmp_path, broker.port, path).start()
    try:
        early = Subscriber(broker.port)
        early.wait_for(lambda m: m.topic == TOPICS.availability and m.payload == b"online", what="online")
        late = Subscriber(broker.port)  # Home Assistant starting after the bridge gets it all from the broker
        late.wait_for(lambda m: m.topic.endswith("/armed/config") and m.retain, what="retained discovery")
        daemon.set(state="armed", relay_energized=True, belt_mps=1.3)
        early.wait_for(lambda m: m.topic == TOPICS.state and json.loads(m.payload)["armed"], what="armed state")
        daemon.set(state="tripped", relay_energized=False, trips=1,
                   trip={"t_s": 4.0, "wall_time": 1.7e9, "reason": "drift", "detail": "stopped_stepping",
                         "describe": "tripped at 4.000 s: drift (stopped_stepping: carried_m=0.52)",
                         "values": {"no_step_s": 1.6, "no_step_limit_s": 1.5, "carried_m": 0.52,
                                    "belt_mps": 0.9}})
        trip = json.loads(early.wait_for(lambda m: m.topic == TOPICS.trip, what="a trip event").payload)
        assert trip["event_type"] == "drift" and trip["detail"] == "stopped_stepping"
        # the words `treadguard trips show` says, at the wall-clock time, not seconds since the start
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1.7e9))
        assert trip["describe"].startswith(f"tripped at {when}: no step for 1.60 s (the limit is 1.50 s")
        assert "carried the walker back 0.52 m" in trip["describe"] and "4.000 s" not in trip["describe"]
        assert trip["time"] == time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(1.7e9))
        state = json.loads(early.wait_for(lambda m: m.topic == TOPICS.state and json.loads(m.payload)["tripped"],
                                          what="tripped state").payload)
        assert state["last_trip_reason"] == "drift"
        daemon.stop()  # the daemon goes away: Home Assistant shows the entities unavailable
        early.wait_for(lambda m: m.topic == TOPICS.availability and m.payload == b"offline", what="offline")
        assert len(early.on(TOPICS.trip)) == 1
        early.close()
        late.close()
    finally:
        bridge.stop()


@needs_mosquitto
def test_a_stopped_or_missing_broker_never_holds_up_the_status_thread(tmp_path, broker):
    path = str(tmp_path / "status.sock")
    daemon = StatusFixture(path).start()
    dead_port = free_port()  # nothing listens there
    bridges = [make_bridge(tmp_path / "a", broker.port, path), make_bridge(tmp_path / "b", dead_port, path)]
    for bridge in bridges:
        bridge.start()
    try:
        watcher = Subscriber(broker.port)
        watcher.wait_for(lambda m: m.topic == TOPICS.availability and m.payload == b"online", what="online")
        watcher.close()
        os.kill(broker.process.pid, signal.SIGSTOP)  # the broker hangs: TCP stays open, nothing answers
        try:
            for k in range(20):  # far more state than any socket buffer holds
                daemon.set(state="armed" if k % 2 else "unarmed", belt_mps=k / 10,
                           problems=["x" * 2000])
            daemon.set(state="armed", belt_mps=9.9, problems=[])
            for bridge in bridges:  # both bridges keep reading the daemon and keep their dashboards current
                wanted = bridge.client.snapshots + 20
                for _ in range(500):  # at most 5 s
                    if bridge.client.snapshots >= wanted:
                        break
                    daemon.set(belt_mps=9.9)
                    bridge.client._thread.join(0.01)
                assert bridge.client.snapshots >= wanted
                assert bridge.live.view().snapshot.belt_mps == 9.9
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
    finally:
        for bridge in bridges:
            bridge.stop()
        daemon.stop()


@needs_mosquitto
def test_a_broker_user_and_password_from_the_password_file_and_a_wrong_one_said_plainly(tmp_path):
    broker = Broker(tmp_path, users={"treadguard": "s3cret"}).start()
    said: list[str] = []
    try:
        right = MqttPublisher(BrokerSettings("127.0.0.1", broker.port, username="treadguard", password="s3cret"),
                              TOPICS, "test", say=said.append).start()
        wrong = MqttPublisher(BrokerSettings("127.0.0.1", broker.port, username="treadguard", password="guess"),
                              Topics("other"), "test", say=said.append).start()
        try:
            deadline = time.monotonic() + 10
            while not (right.client.is_connected() and any("refused" in line for line in said)):
                assert time.monotonic() < deadline, said
                time.sleep(0.05)
            assert any("check [bridge] mqtt_username and the password file" in line for line in said)
            assert not wrong.client.is_connected()
        finally:
            right.stop()
            wrong.stop()
    finally:
        broker.stop()


@needs_mosquitto
def test_after_the_broker_restarts_the_bridge_reconnects_and_announces_itself_again(tmp_path, broker):
    path = str(tmp_path / "status.sock")
    daemon = StatusFixture(path).start()
    bridge = make_bridge(tmp_path, broker.port, path).start()
    try:
        first = Subscriber(broker.port)
        first.wait_for(lambda m: m.topic == TOPICS.availability and m.payload == b"online", what="online")
        first.close()
        broker.stop()  # the broker restarts and forgets everything (no persistence)
        daemon.set(state="armed", belt_mps=0.8)  # meanwhile the treadmill goes on
        broker.start()
        again = Subscriber(broker.port)
        # a fresh broker holds nothing: any discovery it delivers, the bridge sent again
        again.wait_for(lambda m: m.topic.endswith("/trip/config"), timeout_s=20, what="discovery after the restart")
        again.wait_for(lambda m: m.topic == TOPICS.state and json.loads(m.payload)["armed"], what="the state")
        again.close()
    finally:
        bridge.stop()
        daemon.stop()


def wait_for(predicate, what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@needs_mosquitto
def test_an_unreachable_broker_is_said_once_and_its_return_once(tmp_path):
    broker = Broker(tmp_path)  # its port is chosen; nothing listens there yet
    said: list[str] = []
    publisher = MqttPublisher(BrokerSettings("127.0.0.1", broker.port), TOPICS, "test", say=said.append).start()
    try:
        wait_for(lambda: publisher.connect_attempts >= 3, "three connection attempts")
        assert len(said) == 1 and "cannot reach the MQTT broker" in said[0] and f":{broker.port}" in said[0]
        broker.start()
        wait_for(lambda: publisher.client.is_connected(), "the connection")
        assert len(said) == 2 and "connected to the MQTT broker" in said[1]
    finally:
        publisher.stop()
        broker.stop()


@needs_mosquitto
def test_a_wrong_password_is_said_once_however_often_it_is_retried(tmp_path):
    broker = Broker(tmp_path, users={"treadguard": "s3cret"}).start()
    said: list[str] = []
    publisher = MqttPublisher(BrokerSettings("127.0.0.1", broker.port, username="treadguard", password="guess"),
                              TOPICS, "test", say=said.append).start()
    try:
        wait_for(lambda: publisher.connect_attempts >= 3, "three refused attempts")
        assert len(said) == 1, said
        assert "refused" in said[0] and "check [bridge] mqtt_username and the password file" in said[0]
    finally:
        publisher.stop()
        broker.stop()


@needs_mosquitto
def test_a_broker_that_stops_is_said_once_and_its_return_once(tmp_path, broker):
    said: list[str] = []
    publisher = MqttPublisher(BrokerSettings("127.0.0.1", broker.port), TOPICS, "test", say=said.append).start()
    try:
        wait_for(lambda: publisher.client.is_connected(), "the connection")
        broker.stop()
        attempts = publisher.connect_attempts
        wait_for(lambda: publisher.connect_attempts >= attempts + 2, "two failed reconnections")
        assert len(said) == 2 and "went away" in said[1]
        broker.start()
        wait_for(lambda: publisher.client.is_connected(), "the reconnection", timeout_s=20)
        assert len(said) == 3 and "connected to the MQTT broker" in said[2]
    finally:
        publisher.stop()
        broker.stop()


@pytest.mark.parametrize("events, lines", [
    ([Event.CONNECT_FAILED] * 5, [Link.UNREACHABLE]),
    ([Event.REFUSED, Event.DISCONNECTED] * 5, [Link.REFUSED]),
    ([Event.CONNECTED, Event.DISCONNECTED, Event.CONNECT_FAILED, Event.CONNECT_FAILED, Event.CONNECTED],
     [Link.CONNECTED, Link.LOST, Link.CONNECTED]),
    ([Event.REFUSED, Event.CONNECT_FAILED, Event.REFUSED], [Link.REFUSED, Link.UNREACHABLE, Link.REFUSED]),
])
def test_the_link_says_a_line_only_when_it_changes(events, lines):
    link, said = Link.STARTING, []
    for event in events:
        link, is_news = step(link, event)
        if is_news:
            said.append(link)
    assert said == lines


@needs_mosquitto
def test_home_assistant_sees_the_live_direction_the_backward_ceiling_and_steadiness(tmp_path, broker):
    path = str(tmp_path / "status.sock")
    daemon = StatusFixture(path).start()
    bridge = make_bridge(tmp_path, broker.port, path).start()
    try:
        ha = Subscriber(broker.port)
        config = json.loads(ha.wait_for(lambda m: m.topic.endswith("/backward_ceiling/config"),
                                        what="the ceiling entity").payload)
        assert config["unit_of_measurement"] == "m/s" and "backward_ceiling_mps" in config["value_template"]
        daemon.set(state="armed", relay_energized=True, belt_mps=0.55, walking="backward",
                   ceiling={"ceiling_mps": 0.6, "is_over": False, "applies": True, "rise_in_s": 90.0},
                   steadiness={"step_cv": 0.031, "sway_radps": 0.42, "is_steady": True})
        state = json.loads(ha.wait_for(lambda m: m.topic == TOPICS.state and json.loads(m.payload)["walking"]
                                       == "backward", what="walking backward").payload)
        assert state["backward_ceiling_mps"] == 0.6 and state["step_time_cv_pct"] == 3.1
        assert state["sway_radps"] == 0.42 and state["above_backward_ceiling"] is False
        daemon.set(walking="unknown", ceiling={"ceiling_mps": 0.6, "is_over": True})
        state = json.loads(ha.wait_for(lambda m: m.topic == TOPICS.state and json.loads(m.payload)["walking"]
                                       == "unknown", what="direction not known").payload)
        assert state["above_backward_ceiling"] is True
        ha.close()
    finally:
        bridge.stop()
        daemon.stop()
