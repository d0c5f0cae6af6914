"""Publishing to MQTT for Home Assistant: discovery, state, trip events, availability.

Uses paho-mqtt (the Eclipse client that Home Assistant's own MQTT integration is
built on; v2 callback API) as an optional extra: `pip install treadguard[bridge]`.

What it publishes, and nothing else (it subscribes to nothing, so no message can
reach the bridge, let alone the daemon, whose socket is read-only anyway):
  <discovery>/<component>/treadguard_<id>/<object>/config   retained discovery
  <prefix>/<id>/state          retained JSON: armed, tripped, belt, margin, session
  <prefix>/<id>/trip           one JSON event per trip (QoS 1, not retained)
  <prefix>/<id>/availability   "online" while the broker link and the daemon's socket
                               are both up; "offline" otherwise, and as the last will

Never blocks the status thread: it only puts messages in an Outbox (the latest
state, and a few events, oldest dropped first), a worker thread hands them to
paho, and paho's own loop thread does the network. Connecting is asynchronous,
with paho's reconnect back-off, so a dead broker costs nothing but dropped state.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

from monitor.bridge.broker_link import Event, Link, line, step
from monitor.safety.verdict import REASONS

EVENT_QUEUE = 16  # trip events kept while the broker is away; older ones are dropped first


@dataclass(frozen=True)
class Topics:
    device_id: str
    prefix: str = "treadguard"
    discovery: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def trip(self) -> str:
        return f"{self.base}/trip"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def node(self) -> str:
        return f"treadguard_{self.device_id}"

    def config(self, component: str, object_id: str) -> str:
        return f"{self.discovery}/{component}/{self.node}/{object_id}/config"


def _none_if_null(field: str) -> str:
    # Home Assistant reads the payload "None" as unknown: a sensor with no reading shows no number
    return f"{{{{ value_json.{field} if value_json.{field} is not none else 'None' }}}}"


def discovery_messages(topics: Topics, version: str) -> list[tuple[str, dict[str, Any]]]:
    """Every retained discovery config, as (topic, payload)."""
    device = {"identifiers": [topics.node], "name": f"treadguard {topics.device_id}",
              "manufacturer": "treadguard", "model": "treadmill safety monitor (read-only bridge)",
              "sw_version": version}
    common = {"availability_topic": topics.availability, "payload_available": "online",
              "payload_not_available": "offline", "device": device,
              "origin": {"name": "treadguard", "sw_version": version}}

    def entity(component: str, object_id: str, name: str, **extra: Any) -> tuple[str, dict[str, Any]]:
        payload = {"name": name, "unique_id": f"{topics.node}_{object_id}", **common, **extra}
        return topics.config(component, object_id), payload

    state = {"state_topic": topics.state}
    return [
        entity("binary_sensor", "armed", "Armed", **state, device_class="running",
               value_template="{{ 'ON' if value_json.armed else 'OFF' }}"),
        entity("binary_sensor", "tripped", "Tripped", **state, device_class="problem",
               value_template="{{ 'ON' if value_json.tripped else 'OFF' }}"),
        entity("sensor", "belt_speed", "Belt speed", **state, device_class="speed", unit_of_measurement="m/s",
               state_class="measurement", suggested_display_precision=2, value_template=_none_if_null("belt_mps")),
        entity("sensor", "session_time", "Session time", **state, device_class="duration",
               unit_of_measurement="s", state_class="measurement", suggested_display_precision=0,
               value_template=_none_if_null("session_time_s")),
        entity("sensor", "session_distance", "Session distance", **state, device_class="distance",
               unit_of_measurement="m", state_class="total_increasing", suggested_display_precision=0,
               value_template=_none_if_null("session_distance_m")),
        entity("sensor", "walker_margin", "Walker margin to the rear edge", **state, device_class="distance",
               unit_of_measurement="m", state_class="measurement", suggested_display_precision=2,
               value_template=_none_if_null("rear_margin_m")),
        entity("sensor", "last_trip_reason", "Last trip reason", **state, icon="mdi:alert-octagon",
               value_template=_none_if_null("last_trip_reason")),
        entity("sensor", "walking", "Walking direction", **state, icon="mdi:swap-horizontal",
               value_template=_none_if_null("walking")),
        entity("sensor", "backward_ceiling", "Backward speed ceiling", **state, device_class="speed",
               unit_of_measurement="m/s", state_class="measurement", suggested_display_precision=2,
               value_template=_none_if_null("backward_ceiling_mps")),
        entity("sensor", "step_time_variability", "Step time variability", **state, unit_of_measurement="%",
               state_class="measurement", suggested_display_precision=1, icon="mdi:shoe-print",
               value_template=_none_if_null("step_time_cv_pct")),
        entity("sensor", "trunk_sway", "Trunk sway", **state, unit_of_measurement="rad/s",
               state_class="measurement", suggested_display_precision=2, icon="mdi:human-handsdown",
               value_template=_none_if_null("sway_radps")),
        entity("event", "trip", "Trip", state_topic=topics.trip, event_types=[*REASONS, "unknown"],
               icon="mdi:alert-octagon"),
    ]


class Outbox:
    """What waits to be published: the newest payload per latest-only topic, and a few
    events (the oldest dropped first). Offering never waits on the network."""

    def __init__(self, max_events: int = EVENT_QUEUE) -> None:
        self._lock = threading.Condition()
        self._latest: dict[str, tuple[str, bool]] = {}  # topic -> (payload, retain)
        self._events: collections.deque[tuple[str, str]] = collections.deque(maxlen=max_events)
        self.dropped_events = 0
        self._closed = False

    def put_latest(self, topic: str, payload: str, *, retain: bool) -> None:
        with self._lock:
            self._latest[topic] = (payload, retain)
            self._lock.notify()

    def put_event(self, topic: str, payload: str) -> None:
        with self._lock:
            if len(self._events) == self._events.maxlen:
                self.dropped_events += 1
            self._events.append((topic, payload))
            self._lock.notify()

    def wait(self, timeout_s: float) -> None:
        """Until something is offered, wake() or close() is called, or timeout_s."""
        with self._lock:
            if not self._latest and not self._events and not self._closed:
                self._lock.wait(timeout_s)

    def take(self) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]:
        with self._lock:
            latest = [(topic, payload, retain) for topic, (payload, retain) in self._latest.items()]
            events = list(self._events)
            self._latest.clear()
            self._events.clear()
            return latest, events

    def requeue_events(self, events: list[tuple[str, str]]) -> None:
        """Events that could not be sent go back in front (and may be dropped as the oldest)."""
        with self._lock:
            for item in reversed(events):
                if len(self._events) == self._events.maxlen:
                    self.dropped_events += 1
                    continue
                self._events.appendleft(item)

    def wake(self) -> None:
        """Wake the worker although nothing new was offered (e.g. after a reconnect)."""
        with self._lock:
            self._lock.notify()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int = 1883
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password: str = ""  # read from the password file by the command, never from the config
    keepalive_s: int = 30


class MqttPublisher:
    """Connects in the background, publishes what the Outbox holds, says online/offline."""

    def __init__(self, broker: BrokerSettings, topics: Topics, version: str, *,
                 say: Callable[[str], None] = lambda line: (sys.stderr.write(line + "\n"), sys.stderr.flush())) -> None:
        import paho.mqtt.client as mqtt  # the optional extra: imported only when MQTT is configured

        self.broker = broker
        self.topics = topics
        self.version = version
        self.say = say
        self.outbox = Outbox()
        self.published = 0
        self._mqtt = mqtt
        self._is_daemon_live = False
        self._needs_announce = threading.Event()
        self._stop = threading.Event()
        self._last_state: str | None = None
        self.link = Link.STARTING
        self.connect_attempts = 0
        self._link_lock = threading.Lock()
        client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"treadguard-bridge-{topics.device_id}", protocol=mqtt.MQTTv311)
        client.will_set(topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        # QoS 1 messages waiting in paho while the link is down are bounded too
        client.max_queued_messages_set(EVENT_QUEUE)
        if broker.username:
            client.username_pw_set(broker.username, broker.password or None)
        if broker.tls:
            client.tls_set(ca_certs=broker.ca_file or None, certfile=broker.cert_file or None,
                           keyfile=broker.key_file or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self.client = client
        self._worker = threading.Thread(target=self._work, name="mqtt-publisher", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "MqttPublisher":
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s)
        self.client.loop_start()  # paho's thread: connects, reconnects with back-off, does all network I/O
        self._worker.start()
        return self

    def stop(self) -> None:
        """A clean stop says "offline" first (the will covers an unclean one)."""
        self._stop.set()
        self.outbox.close()
        self._worker.join(2.0)
        if self.client.is_connected():
            info = self.client.publish(self.topics.availability, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=1.0)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    # -- what the bridge offers (never waits) --------------------------------------------------------
    def offer_state(self, state: dict[str, Any]) -> None:
        payload = json.dumps(state, separators=(",", ":"))
        self._last_state = payload
        self.outbox.put_latest(self.topics.state, payload, retain=True)

    def offer_trip(self, event: dict[str, Any]) -> None:
        self.outbox.put_event(self.topics.trip, json.dumps(event, separators=(",", ":")))

    def set_daemon_live(self, is_live: bool) -> None:
        self._is_daemon_live = is_live
        self.outbox.put_latest(self.topics.availability, self._availability(), retain=True)

    def _availability(self) -> str:
        return "online" if self._is_daemon_live else "offline"

    # -- paho's thread ----------------------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connect_attempts += 1
        if reason_code.is_failure:
            self._link_event(Event.REFUSED, str(reason_code))
            return
        self._link_event(Event.CONNECTED)
        self._needs_announce.set()
        self.outbox.wake()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self.connect_attempts += 1
        self._link_event(Event.CONNECT_FAILED)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if not self._stop.is_set():
            self._link_event(Event.DISCONNECTED, str(reason_code))

    def _link_event(self, event: Event, reason: str = "") -> None:
        """One line when the link changes (broker_link.step), none while it stays as it is."""
        with self._link_lock:
            self.link, is_news = step(self.link, event)
        if is_news:
            self.say(line(self.link, f"{self.broker.host}:{self.broker.port}", reason))

    # -- the worker thread ---------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            self.outbox.wait(1.0)
            if not self.client.is_connected():
                continue  # latest-only state waits (overwritten); events wait in their bounded queue
            if self._needs_announce.is_set():
                self._needs_announce.clear()
                self._announce()
            latest, events = self.outbox.take()
            for topic, payload, retain in latest:
                self._publish(topic, payload, qos=1 if topic == self.topics.availability else 0, retain=retain)
            unsent = [(topic, payload) for topic, payload in events
                      if not self._publish(topic, payload, qos=1, retain=False)]
            if unsent:
                self.outbox.requeue_events(unsent)

    def _announce(self) -> None:
        """After every (re)connect: discovery, availability, the newest state (all retained)."""
        for topic, payload in discovery_messages(self.topics, self.version):
            self._publish(topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=True)
        self._publish(self.topics.availability, self._availability(), qos=1, retain=True)
        if self._last_state is not None:
            self._publish(self.topics.state, self._last_state, qos=0, retain=True)

    def _publish(self, topic: str, payload: str, *, qos: int, retain: bool) -> bool:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == self._mqtt.MQTT_ERR_SUCCESS:
            self.published += 1
            return True
        return False
