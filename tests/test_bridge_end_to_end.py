"""Done when: the real daemon (run_hardware on a fake IMU bus and gpiozero's MockFactory, in
real time, its own process), the real bridge (`treadguard bridge`, its own process) and a real
mosquitto: Home Assistant discovery, a trip event, the last will when the bridge is killed,
no publish anywhere arms the daemon, the dashboard in headless Chromium shows the state and
the trip, and a stalled bridge or broker does not make the daemon's ticks late."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from monitor.bridge.session_log import SessionLog, check_integrity, read_sessions, read_trips
from monitor.bridge.status_client import Backoff, StatusClient
from monitor.formats.progress_file import Progress, save_progress
from tests.browser_support import CHROMIUM, dump_dom, screenshot
from tests.mqtt_support import Broker, Subscriber, needs_mosquitto

REPO = Path(__file__).resolve().parent.parent
DEVICE = "e2e"
BASE = f"treadguard/{DEVICE}"
ENTITIES = {"binary_sensor/treadguard_e2e/armed", "binary_sensor/treadguard_e2e/tripped",
            "sensor/treadguard_e2e/belt_speed", "sensor/treadguard_e2e/session_time",
            "sensor/treadguard_e2e/session_distance", "sensor/treadguard_e2e/walker_margin",
            "sensor/treadguard_e2e/last_trip_reason", "event/treadguard_e2e/trip"}
# Topics someone might guess would command the monitor: every one of them is published to.
GUESSES = [f"{BASE}/{leaf}" for leaf in ("set", "arm", "reset", "command", "cmd", "armed/set", "state/set",
                                         "relay/set", "availability", "state")] + [
    f"homeassistant/{c}/treadguard_{DEVICE}/{o}/{leaf}" for c, o in
    (("switch", "arm"), ("button", "reset"), ("binary_sensor", "armed"), ("event", "trip"))
    for leaf in ("set", "command", "config")] + ["homeassistant/status", "treadguard/arm", "arm", "$SYS/arm"]
PAYLOADS = [b"ON", b"arm", b"1", b"reset", b'{"state": "armed", "armed": true}', b"PRESS"]


def state(message) -> dict:
    """The bridge's state JSON, or {} for anything else on that topic (the test's own guesses)."""
    try:
        value = json.loads(message.payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def config_text(tmp: Path, broker_port: int, *, drift: bool, walking: str = "forward") -> str:
    # loop.late_s and the in-process deadline are widened (0.1 s and 4 ticks = 40 ms by default): on a
    # busy test machine, without the service's real-time priority, a tick can come that late for
    # reasons of its own, and these tests are about the bridge (the late ticks are counted).
    return f"""\
[loop]
late_s = 0.3
deadline_ticks = 10
[session]
walking = "{walking}"
[ceiling]
progress_file = "{tmp / "progress" / "progress.json"}"
[imu]
driver = "mpu6050"
mount = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
[belt]
driver = "pulse"
[relay]
driver = "gpio"
[drift]
enabled = {"true" if drift else "false"}
[record]
trip_dir = "{tmp / "trips"}"
[status]
socket_path = "{tmp / "run" / "status.sock"}"
interval_s = 0.05
[bridge]
mqtt_host = "127.0.0.1"
mqtt_port = {broker_port}
device_id = "{DEVICE}"
dashboard_port = 0
session_db = "{tmp / "bridge" / "sessions.sqlite"}"
session_idle_s = 30.0
state_interval_s = 0.25
status_silence_s = 1.0
"""


class Process:
    """A child process whose output is collected by a thread, so it never blocks on a full pipe."""

    def __init__(self, *args: str, cwd: Path = REPO) -> None:
        self.popen = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float = 20.0) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output)
            if match:
                return match
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the output:\n{self.output[-3000:]}")

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(2)


class DaemonView:
    """A read-only client of the daemon's socket for the test itself: the daemon's own word."""

    def __init__(self, path: str) -> None:
        self.latest = None
        self.snapshots = 0
        self.client = StatusClient(path, self._on, lambda live, why: None, silence_s=2.0,
                                   backoff=Backoff(0.05, 0.2)).start()

    def _on(self, snapshot) -> None:
        self.latest = snapshot
        self.snapshots += 1

    def wait_for(self, predicate, timeout_s: float = 15.0, what: str = "a state"):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.latest is not None and predicate(self.latest):
                return self.latest
            time.sleep(0.02)
        raise AssertionError(f"the daemon never showed {what}; last: {self.latest}")

    def close(self) -> None:
        self.client.stop()


def start_home(tmp: Path, *, drift: bool, belt: list[str], walking: str = "forward"):
    belt = belt + ["--tick-stats", str(tmp / "ticks.json")]
    (tmp / "run").mkdir(mode=0o700)
    (tmp / "progress").mkdir(exist_ok=True)  # the backward ceiling's file, kept in the test's own folder
    broker = Broker(tmp).start()
    config = tmp / "treadguard.toml"
    config.write_text(config_text(tmp, broker.port, drift=drift, walking=walking))
    daemon = Process("-m", "tests.daemon_harness", str(config), *belt)
    daemon.wait_for(r"treadguard: running")
    view = DaemonView(str(tmp / "run" / "status.sock"))
    view.wait_for(lambda s: s.state == "unarmed", what="unarmed")
    bridge = Process("-m", "monitor.cli.main", "bridge", "--config", str(config))
    url = bridge.wait_for(r"dashboard on (http://127\.0\.0\.1:\d+/)").group(1)
    return broker, daemon, view, bridge, url


@needs_mosquitto
def test_home_assistant_sees_discovery_and_a_trip_nothing_published_arms_it_and_the_will_says_offline(tmp_path):
    # the walker steps for a few seconds once the belt runs, then stops stepping: a drift trip.
    # a picture of the trip: TREADGUARD_WALK_S=45 TREADGUARD_DASHBOARD_PNG=trip.png pytest -k discovery
    walk_s = os.environ.get("TREADGUARD_WALK_S", "3")
    broker, daemon, view, bridge, url = start_home(tmp_path, drift=True,
                                                   belt=["--belt-mps", "1.1", "--walk-s", walk_s])
    watcher = None
    try:
        watcher = Subscriber(broker.port)
        watcher.wait_for(lambda m: m.topic == f"{BASE}/availability" and m.payload == b"online", what="online")
        for entity in ENTITIES:  # seen live or retained, whichever came first
            watcher.wait_for(lambda m: m.topic == f"homeassistant/{entity}/config", what=f"discovery of {entity}")
        # A Home Assistant that starts after the bridge still finds every entity: discovery is retained.
        late = Subscriber(broker.port, "homeassistant/#")
        try:
            for entity in ENTITIES:
                config = late.wait_for(lambda m: m.topic == f"homeassistant/{entity}/config" and m.retain,
                                       what=f"retained discovery of {entity}")
                assert json.loads(config.payload)["availability_topic"] == f"{BASE}/availability"
        finally:
            late.close()

        # Nothing that arrives over MQTT reaches the daemon: publish everywhere, retained and not.
        for topic in GUESSES + [m.topic + "/set" for m in watcher.messages]:
            for payload in PAYLOADS:
                watcher.client.publish(topic, payload, qos=1, retain=False)
        watcher.client.publish(f"{BASE}/arm", b"ON", qos=1, retain=True).wait_for_publish(5)
        time.sleep(1.0)  # long enough for the daemon to have ticked 100 times on whatever came in
        assert view.latest.state == "unarmed" and not view.latest.relay_energized
        assert "Received SUBSCRIBE from treadguard-bridge" not in broker.log.read_text()  # it listens to nothing

        # A person at the treadmill arms it (SIGUSR1, as the reset does), starts the belt, stops stepping.
        daemon.signal(signal.SIGUSR1)
        view.wait_for(lambda s: s.is_armed, what="armed")
        watcher.wait_for(lambda m: m.topic == f"{BASE}/state" and state(m).get("armed"), what="armed")
        event = watcher.wait_for(lambda m: m.topic == f"{BASE}/trip" and "event_type" in state(m),
                                 timeout_s=float(walk_s) + 15, what="a trip event")
        trip = json.loads(event.payload)
        assert trip["event_type"] == "drift" and trip["detail"]
        assert "carried the walker back" in trip["describe"] and trip["time"]  # `trips show`'s words, wall clock
        assert not event.retain
        tripped = view.wait_for(lambda s: s.is_tripped, what="tripped")
        watcher.wait_for(lambda m: m.topic == f"{BASE}/state" and state(m).get("tripped")
                         and state(m).get("last_trip_reason") == "drift", what="tripped state")
        assert tripped.trip.reason == "drift"

        # The dashboard, in a browser: the state, the trip and its explanation, the session.
        if CHROMIUM is not None:
            view.wait_for(lambda s: s.belt_mps is not None and s.belt_mps < 0.05, what="the belt stopped")
            dom = dump_dom(url, tmp_path / "profile")
            assert 'class="badge tripped">TRIPPED<' in dom and "drift" in dom and tripped.trip.detail in dom
            assert "walking now" in dom and "live, updated" in dom
            shot = screenshot(url, tmp_path / "profile", tmp_path / "dashboard.png")
            if os.environ.get("TREADGUARD_DASHBOARD_PNG"):  # a picture of the dashboard after a trip
                shutil.copy(shot, os.environ["TREADGUARD_DASHBOARD_PNG"])

        # The trip's page: the daemon's record of it (trip_dir) with its explanation and plot.
        home = urllib.request.urlopen(url, timeout=10).read().decode()
        trip_page = urllib.request.urlopen(url + re.search(r'href="/(trip/\d+)"', home).group(1),
                                           timeout=10).read().decode()
        assert "Trip record" in trip_page and tripped.trip.detail in trip_page
        plot = re.search(r'src="/(plot/[^"]+\.svg)"', trip_page)
        if plot is not None:  # this installation has the plot extra (matplotlib)
            response = urllib.request.urlopen(url + plot.group(1), timeout=60)
            assert response.headers["Content-Type"] == "image/svg+xml"
            assert b"<svg" in response.read(2000)
        else:
            assert "plots need the `plot` extra" in trip_page

        # The bridge dies without a word: the broker publishes its last will.
        bridge.signal(signal.SIGKILL)
        bridge.popen.wait(10)
        watcher.wait_for(lambda m: m.topic == f"{BASE}/availability" and m.payload == b"offline",
                         what="the last will")
        assert view.latest.is_tripped  # the daemon neither noticed nor cared
        # killed mid-session: the log is consistent, the session and its trip are there
        db = tmp_path / "bridge" / "sessions.sqlite"
        assert check_integrity(db) == "ok"
        SessionLog(db).close()  # what the bridge does when it starts again
        [session] = read_sessions(db)
        [logged] = read_trips(db)
        assert logged.reason == "drift" and logged.session_id == session.id and session.trips == 1
        assert session.ended == "interrupted" and session.forward_s > 0 and session.distance_m > 0
    finally:
        if watcher is not None:
            watcher.close()
        view.close()
        bridge.stop()
        daemon.stop()
        broker.stop()


def earlier_backward_sessions(db: Path) -> None:
    """Four earlier sessions in the bridge's log, one a day, walking backwards steadier each time:
    what a trend over sessions needs before today's session, which the real daemon walks."""
    from monitor.bridge.sessions import SessionEnded, SessionStarted, SessionTotals

    db.parent.mkdir()
    log = SessionLog(str(db))
    first = time.time() - 4 * 86400
    for day, cv in enumerate((0.072, 0.061, 0.048, 0.041)):
        t0 = first + day * 86400
        totals = SessionTotals(t0, t0 + 900, forward_s=300, backward_s=600, distance_m=420, top_speed_mps=0.6,
                               forward_cv_s=0.025 * 300, forward_sway_s=0.35 * 300, forward_measured_s=300,
                               backward_cv_s=cv * 600, backward_sway_s=(0.5 - 0.03 * day) * 600,
                               backward_measured_s=600, backward_ceiling_mps=0.5 + 0.1 * (day // 2))
        log.record(SessionStarted(totals))
        log.record(SessionEnded(totals))
    log.close()


@needs_mosquitto
def test_the_dashboard_shows_a_backward_walker_s_direction_ceiling_and_steadiness_from_the_daemon(tmp_path):
    # The real daemon, set up for walking backwards with a ceiling of 0.6 m/s kept from earlier
    # sessions; the belt runs just under it. docs/dashboard.png (a minute of walking first):
    # TREADGUARD_WALK_S=60 TREADGUARD_DASHBOARD_PNG=docs/dashboard.png pytest tests/test_bridge_end_to_end.py \
    #   -k backward_walker
    earlier_backward_sessions(tmp_path / "bridge" / "sessions.sqlite")
    (tmp_path / "progress").mkdir()
    save_progress(str(tmp_path / "progress" / "progress.json"), Progress(0.6))
    broker, daemon, view, bridge, url = start_home(tmp_path, drift=False, walking="backward",
                                                   belt=["--belt-mps", "0.55", "--walk-s", "600"])
    try:
        daemon.wait_for(r"backward ceiling 0\.6 m/s \(from ")  # the kept ceiling, said at start
        daemon.signal(signal.SIGUSR1)
        view.wait_for(lambda s: s.is_armed, what="armed")
        # steadiness needs 16 steps; the walker keeps stepping, the belt keeps running under the ceiling
        walking = view.wait_for(lambda s: s.step_cv is not None and s.belt_mps is not None and s.belt_mps > 0.5,
                                timeout_s=30.0, what="steadiness measured on a moving belt")
        assert walking.walking == "backward" and walking.is_armed
        assert walking.ceiling_mps == 0.6 and not walking.ceiling_over
        time.sleep(float(os.environ.get("TREADGUARD_WALK_S", "0")))  # only for the picture: a longer chart
        if CHROMIUM is not None:
            dom = dump_dom(url, tmp_path / "profile")
            assert '<dd id="walking">backward</dd>' in dom and '<dd id="ceiling">0.60 m/s</dd>' in dom
            assert "step time variability" in dom and "walking now" in dom and "live, updated" in dom
            assert 'aria-label="step time variability over the sessions"' in dom
            assert "7.2 % · 0.50 rad/s" in dom  # the oldest session in the trend
            shot = screenshot(url, tmp_path / "profile", tmp_path / "dashboard.png", size="1200,1300")
            if os.environ.get("TREADGUARD_DASHBOARD_PNG"):  # how docs/dashboard.png is made
                shutil.copy(shot, os.environ["TREADGUARD_DASHBOARD_PNG"])
        # the ceiling never stopped a walker under it (a loop made late by a busy machine may: loop_late)
        last = view.latest
        assert not (last.is_tripped and last.trip is not None and last.trip.reason == "backward_ceiling"), last.trip
    finally:
        view.close()
        bridge.stop()
        daemon.stop()
        broker.stop()


def wait_for_live_armed(url: str, timeout_s: float = 15.0) -> bool:
    """The dashboard's own word that the daemon is live and armed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            live = json.loads(urllib.request.urlopen(url + "api/live", timeout=2).read())["state"]
        except (OSError, ValueError, KeyError):
            live = {}
        if live.get("daemon_live") and live.get("armed"):
            return True
        time.sleep(0.2)
    return False


def tick_counts(path: Path) -> tuple[int, int]:
    """(ticks, late ticks) so far, as the daemon's own tick hook counted them."""
    counts = json.loads(path.read_text())
    return counts["ticks"], counts["late_ticks"]


@needs_mosquitto
def test_a_stalled_bridge_and_broker_do_not_make_the_daemons_ticks_late(tmp_path):
    broker, daemon, view, bridge, url = start_home(tmp_path, drift=False, belt=["--belt-mps", "1.0"])
    try:
        bridge.wait_for(r"connected to the MQTT broker")
        daemon.signal(signal.SIGUSR1)
        view.wait_for(lambda s: s.is_armed, what="armed")
        window_s = 6.0
        stats = tmp_path / "ticks.json"
        ticks0, late0 = tick_counts(stats)
        time.sleep(window_s)  # the bridge and the broker at work
        ticks1, late1 = tick_counts(stats)
        bridge.signal(signal.SIGSTOP)
        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            time.sleep(window_s)  # both frozen: the daemon's socket fills up for the bridge
            ticks2, late2 = tick_counts(stats)
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
            bridge.signal(signal.SIGCONT)
        worked, stalled = ticks1 - ticks0, ticks2 - ticks1
        print(f"daemon ticks late (over 1.5 periods after the last) while the bridge worked: {late1 - late0} "
              f"of {worked}; while the bridge and the broker were stopped: {late2 - late1} of {stalled}")
        assert view.latest.is_armed, view.latest  # never tripped: no tick came later than loop.late_s
        assert stalled >= 0.8 * worked  # the loop did not slow down
        assert late2 - late1 <= 2 * (late1 - late0) + 10  # nor come late more often than with the bridge at work
        # the daemon dropped the stalled bridge rather than wait for it; the bridge comes back by itself
        bridge.wait_for(r"status socket .*: (closed by the daemon|connection lost)")
        assert wait_for_live_armed(url), f"the bridge did not come back: {bridge.output[-2000:]}"
    finally:
        view.close()
        bridge.stop()
        daemon.stop()
        broker.stop()
