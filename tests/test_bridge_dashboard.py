"""The dashboard over real HTTP: the live state, trips and sessions on the page; GET only;
loopback by default; nothing on the page comes from anywhere but the bridge."""

from __future__ import annotations

import http.client
import json
import re
import time

import pytest

from monitor.bridge.service import Bridge
from monitor.bridge.sessions import SessionRules
from monitor.config.schema import Config
from tests.status_fixture import StatusFixture

JOLT = {"rule_jolt": 1.0, "jolt_mps2": 14.2, "jolt_level_mps2": 3.1, "tilt_rate_radps": 1.9,
        "tilt_rate_level_radps": 0.4, "jolt_score_ratio": 6.3}
TRIP = {"t_s": 12.5, "wall_time": 1.7e9, "reason": "stumble", "detail": "stumble_detected",
        "describe": "tripped at 12.500 s: stumble (stumble_detected: jolt_mps2=14.2)", "values": JOLT}
PLAIN = "A jolt of 14.2 m/s² (the walker&#x27;s usual: 3.1 m/s²) came with the trunk turning at 1.90 rad/s"
WHEN = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1.7e9))


def request(port: int, method: str, path: str = "/", body: bytes | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request(method, path, body=body)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def wait_until(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def dashboard(tmp_path):
    path = str(tmp_path / "status.sock")
    daemon = StatusFixture(path).start()
    bridge = Bridge(socket_path=path, session_db=str(tmp_path / "sessions.sqlite"), rules=SessionRules(idle_s=5.0),
                    silence_s=1.0, state_interval_s=1.0, dashboard_bind="127.0.0.1", dashboard_port=0,
                    device_id="spare_room", trip_dir=str(tmp_path / "trips"), say=lambda line: None).start()
    yield daemon, bridge, bridge.server.address[1]
    bridge.stop()
    daemon.stop()


def test_the_page_shows_the_live_state_the_trip_and_the_session(dashboard):
    daemon, bridge, port = dashboard
    daemon.set(state="armed", relay_energized=True, belt_mps=1.25, rear_margin_m=0.84)
    wait_until(lambda: bridge.live.view().snapshot is not None and bridge.live.view().snapshot.is_armed)
    page = request(port, "GET", "/").body.decode()
    assert "ARMED" in page and "1.25 m/s" in page and "0.84 m" in page and "walking now" in page
    daemon.set(state="tripped", relay_energized=False, trips=1, trip=TRIP)
    wait_until(lambda: bridge.live.view().last_trip is not None)
    wait_until(lambda: "stumble_detected" in request(port, "GET", "/").body.decode())
    page = request(port, "GET", "/").body.decode()
    assert "TRIPPED" in page and PLAIN in page and WHEN in page
    assert "12.500 s" not in page  # seconds since the daemon started mean nothing at home
    trip_link = re.search(r'href="(/trip/\d+)"', page).group(1)
    trip_page = request(port, "GET", trip_link).body.decode()
    assert PLAIN in trip_page and WHEN in trip_page and "12.500 s" not in trip_page
    assert "no trip record was found" in trip_page  # the daemon wrote none into this test's trip folder
    live = json.loads(request(port, "GET", "/api/live").body)
    assert live["label"] == "TRIPPED" and live["state"]["last_trip_reason"] == "stumble"
    assert live["chart"] and live["chart"][-1][1] == 1.25


def test_without_the_daemon_the_page_says_so(dashboard):
    daemon, bridge, port = dashboard
    daemon.stop()
    wait_until(lambda: not bridge.live.view().is_live)
    page = request(port, "GET", "/").body.decode()
    assert "DAEMON NOT REACHABLE" in page and "status socket:" in page


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "ARM", "get"])
def test_every_method_but_get_is_refused(dashboard, method):
    daemon, bridge, port = dashboard
    response = request(port, method, "/", body=b"arm=1" if method in ("POST", "PUT", "PATCH") else None)
    assert response.status == 405 and response.getheader("Allow") == "GET"
    snapshot = bridge.live.view().snapshot
    assert (snapshot is None or not snapshot.is_armed) and daemon.received == b""


def test_pages_allow_nothing_from_elsewhere(dashboard):
    _, _, port = dashboard
    response = request(port, "GET", "/")
    policy = response.getheader("Content-Security-Policy")
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy).group(1)
    page = response.body.decode()
    assert f'<script nonce="{nonce}">' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no external script, style, font or image
    assert " style=" not in page  # the policy would block an inline style attribute: classes only
    assert request(port, "GET", "/nothing-here").status == 404
    assert request(port, "GET", "/trip/999").status == 404


def test_the_dashboard_listens_on_loopback_unless_the_config_opts_in():
    assert Config().bridge.dashboard_bind == "127.0.0.1"


def test_a_refused_re_arm_is_shown_beside_the_trip_not_as_a_new_one(dashboard):
    from monitor.bridge.session_log import read_trips

    daemon, bridge, port = dashboard
    daemon.set(state="tripped", relay_energized=False, trips=1, trip=TRIP)
    wait_until(lambda: bridge.live.view().last_trip is not None)
    daemon.set(rearm_refused={"t_s": 20.0, "wall_time": 1.7e9 + 7.5,
                              "why": [{"reason": "fall", "detail": "fall_detected", "values": {}}]})
    wait_until(lambda: "re-arm refused" in request(port, "GET", "/").body.decode())
    live = json.loads(request(port, "GET", "/api/live").body)
    assert "re-arm refused at " in live["text"]["last-trip"] and "fall_detected" in live["text"]["last-trip"]
    assert len(read_trips(bridge.log.path)) == 1  # one trip, the stumble; the refusal is not a fall
