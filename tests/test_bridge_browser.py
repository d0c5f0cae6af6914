"""The dashboard in a real browser (headless Chromium): the page a person sees shows the
state and the trip, with the page's own script running under its Content-Security-Policy."""

from __future__ import annotations

import time

from monitor.bridge.service import Bridge
from monitor.bridge.sessions import SessionRules
from tests.browser_support import dump_dom, needs_chromium, screenshot
from tests.status_fixture import StatusFixture


@needs_chromium
def test_chromium_shows_the_state_the_trip_and_the_session(tmp_path):
    path = str(tmp_path / "status.sock")
    daemon = StatusFixture(path).start()
    bridge = Bridge(socket_path=path, session_db=str(tmp_path / "sessions.sqlite"), rules=SessionRules(idle_s=30.0),
                    silence_s=1.0, state_interval_s=1.0, dashboard_bind="127.0.0.1", dashboard_port=0,
                    device_id="spare_room", trip_dir=str(tmp_path / "trips"), say=lambda line: None).start()
    try:
        daemon.set(state="armed", relay_energized=True, belt_mps=1.2, rear_margin_m=0.9)
        deadline = time.monotonic() + 5
        while not (bridge.live.view().snapshot and bridge.live.view().snapshot.is_armed):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        tripped_at = time.time()
        daemon.set(state="tripped", relay_energized=False, trips=1, belt_mps=0.3,
                   trip={"t_s": 8.0, "wall_time": tripped_at, "reason": "fall", "detail": "fall_detected",
                         "describe": "tripped at 8.000 s: fall (fall_detected: vertical_velocity_mps=-1.62)",
                         "values": {"rule_drop": 1.0, "vertical_velocity_mps": -1.62, "tilt_rad": 0.71}})
        while bridge.live.view().last_trip is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        url = f"http://127.0.0.1:{bridge.server.address[1]}/"
        dom = dump_dom(url, tmp_path / "profile")
        assert 'id="state" class="badge tripped">TRIPPED<' in dom
        assert "The waist was dropping at 1.62 m/s (a fall needs more than" in dom and "walking now" in dom
        assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(tripped_at)) in dom and "8.000 s" not in dom
        assert "0.30 m/s" in dom and "live, updated" in dom  # the page's script ran and refreshed it
        picture = screenshot(url, tmp_path / "profile", tmp_path / "dashboard.png")
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    finally:
        bridge.stop()
        daemon.stop()


def _past_sessions(db: str) -> None:
    """Four earlier sessions walking backwards, steadier each time."""
    from monitor.bridge.session_log import SessionLog
    from monitor.bridge.sessions import SessionEnded, SessionStarted, SessionTotals

    log = SessionLog(db)
    start = time.time() - 5 * 86400
    for k, cv in enumerate((0.072, 0.061, 0.048, 0.041)):
        t0 = start + k * 86400
        totals = SessionTotals(t0, t0 + 900, forward_s=300, backward_s=600, distance_m=500, top_speed_mps=0.6,
                               forward_cv_s=0.025 * 300, forward_sway_s=0.35 * 300, forward_measured_s=300,
                               backward_cv_s=cv * 600, backward_sway_s=0.5 * 600, backward_measured_s=600,
                               backward_ceiling_mps=0.5 + 0.1 * (k // 2))
        log.record(SessionStarted(totals))
        log.record(SessionEnded(totals))
    log.close()


@needs_chromium
def test_chromium_shows_the_direction_the_ceiling_and_a_steadiness_trend(tmp_path):
    path = str(tmp_path / "status.sock")
    db = str(tmp_path / "sessions.sqlite")
    _past_sessions(db)
    daemon = StatusFixture(path).start()
    bridge = Bridge(socket_path=path, session_db=db, rules=SessionRules(idle_s=30.0),
                    silence_s=1.0, state_interval_s=1.0, dashboard_bind="127.0.0.1", dashboard_port=0,
                    device_id="spare_room", trip_dir=str(tmp_path / "trips"), say=lambda line: None).start()
    try:
        daemon.set(state="armed", relay_energized=True, belt_mps=0.55, walking="backward",
                   ceiling={"ceiling_mps": 0.6, "is_over": False, "applies": True, "rise_in_s": 90.0},
                   steadiness={"step_cv": 0.031, "sway_radps": 0.42, "is_steady": True})
        deadline = time.monotonic() + 5
        while not (bridge.live.view().snapshot and bridge.live.view().snapshot.ceiling_mps):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        url = f"http://127.0.0.1:{bridge.server.address[1]}/"
        dom = dump_dom(url, tmp_path / "profile")
        assert '<dd id="walking">backward</dd>' in dom and '<dd id="ceiling">0.60 m/s</dd>' in dom
        assert "step time variability 3.1&nbsp;%, sway 0.42 rad/s" in dom
        assert 'aria-label="step time variability over the sessions"' in dom
        assert "7.2 % · 0.50 rad/s" in dom and "4.1 % · 0.50 rad/s" in dom  # the oldest and the newest
        picture = screenshot(url, tmp_path / "profile", tmp_path / "dashboard.png", size="1200,1300")
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    finally:
        bridge.stop()
        daemon.stop()
