"""The dashboard under attack, over real HTTP on loopback: half-open connections (slowloris)
cannot take it down or flood the journal, and a page on another name (DNS rebinding) gets
nothing but a short refusal."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest

from monitor.bridge.bounded_server import MAX_CONNECTIONS, DropReport
from monitor.bridge.host_names import HostCheck
from monitor.bridge.service import Bridge
from monitor.bridge.sessions import SessionRules
from monitor.config.load import ConfigError, parse_config
from tests.status_fixture import StatusFixture


def get(port: int, path: str = "/", host: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers={"Host": host} if host is not None else {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def half_open(port: int) -> socket.socket:
    """A slowloris connection: a request head begun and never finished."""
    attacker = socket.create_connection(("127.0.0.1", port), timeout=5)
    attacker.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
    return attacker


def is_closed_by_server(attacker: socket.socket) -> bool:
    try:
        return attacker.recv(1024) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.fixture
def bridge(tmp_path):
    path = str(tmp_path / "status.sock")
    daemon = StatusFixture(path).start()
    said: list[str] = []
    bridge = Bridge(socket_path=path, session_db=str(tmp_path / "sessions.sqlite"), rules=SessionRules(idle_s=5.0),
                    silence_s=1.0, state_interval_s=1.0, dashboard_bind="127.0.0.1", dashboard_port=0,
                    dashboard_hosts=("treadmill.home.arpa",), device_id="spare_room",
                    trip_dir=str(tmp_path / "trips"), say=said.append).start()
    bridge.said = said
    yield bridge
    bridge.stop()
    daemon.stop()


def test_sixty_half_open_connections_neither_block_people_nor_pile_up_threads(bridge):
    port = bridge.server.address[1]
    threads_before = threading.active_count()
    attackers = [half_open(port) for _ in range(60)]
    try:
        for _ in range(20):
            status, body = get(port)
            assert status == 200 and b"spare_room" in body
        assert bridge.server.server.open_connections <= MAX_CONNECTIONS
        assert threading.active_count() <= threads_before + MAX_CONNECTIONS + 2
        assert is_closed_by_server(attackers[0])  # the longest-waiting made room for the others
    finally:
        for attacker in attackers:
            attacker.close()
    assert not any("Traceback" in line for line in bridge.said)
    assert len(bridge.said) <= 1 and "dashboard dropped" in "".join(bridge.said)


def test_a_silent_connection_is_hung_up_after_the_read_timeout(tmp_path):
    from monitor.bridge.dashboard import Dashboard, DashboardServer
    from monitor.bridge.live import LiveState

    dashboard = Dashboard(LiveState(), device_id="t", session_db=str(tmp_path / "s.sqlite"),
                          trip_dir=str(tmp_path / "trips"))
    said: list[str] = []
    server = DashboardServer(dashboard, "127.0.0.1", 0, say=said.append, timeout_s=0.3).start()
    try:
        attacker = half_open(server.address[1])
        attacker.settimeout(5.0)
        assert is_closed_by_server(attacker)
        attacker.close()
    finally:
        server.stop()
    assert not any("Traceback" in line for line in said)


def test_dropped_connections_are_said_in_one_line_a_minute():
    said: list[str] = []
    now = [0.0]
    report = DropReport(said.append, quiet_s=60.0, monotonic=lambda: now[0])
    for _ in range(500):
        report.note("connection(s) silent too long")
    assert len(said) == 1
    now[0] = 59.9
    report.note("connection(s) silent too long")
    assert len(said) == 1
    now[0] = 60.0
    report.note("connection(s) silent too long")
    assert len(said) == 2 and "501 connection(s) silent too long" in said[1]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8957", "127.0.0.1.nip.io", "", "localhost.evil.example",
                                  "localhost:1@evil.example", "[::1]evil.example"])
def test_a_page_on_another_name_gets_no_state_and_no_logs(bridge, host):
    port = bridge.server.address[1]
    for path in ("/", "/api/live", "/trip/1"):
        status, body = get(port, path, host=host)
        assert status == 421
        assert b"spare_room" not in body and b"state" not in body
        assert b"dashboard_hosts" in body and len(body) < 300


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:{port}", "localhost:{port}", "LOCALHOST",
                                  "treadmill.home.arpa", "[::1]:{port}"])
def test_the_dashboard_answers_to_its_own_names(bridge, host):
    port = bridge.server.address[1]
    status, body = get(port, host=host.format(port=port))
    assert status == 200 and b"spare_room" in body


def test_the_machines_host_name_and_its_local_name_are_its_own():
    check = HostCheck("127.0.0.1", hostname="treadpi")
    assert check.allows("treadpi") and check.allows("treadpi.local:8957") and check.allows("TreadPi.local.")
    assert not check.allows("treadpi.evil.example") and not check.allows(None)


def test_an_address_literal_is_accepted_only_where_the_dashboard_listens():
    loopback_only = HostCheck("127.0.0.1", hostname="treadpi")
    assert not loopback_only.allows("192.168.1.20:8957")
    lan = HostCheck("192.168.1.20", hostname="treadpi")
    assert lan.allows("192.168.1.20:8957") and not lan.allows("192.168.1.21")
    everywhere = HostCheck("0.0.0.0", hostname="treadpi")
    assert everywhere.allows("192.168.1.20:8957") and everywhere.allows("[fe80::1]")
    assert not everywhere.allows("evil.example")


@pytest.mark.parametrize("names, word", [(["*.home.arpa"], "not a host name"), (["pi:8957"], "not a host name"),
                                         ([7], "each entry must be a host name"),
                                         ([f"n{i}.home" for i in range(17)], "at most 16")])
def test_dashboard_hosts_is_checked_at_start(names, word):
    with pytest.raises(ConfigError) as caught:
        parse_config({"bridge": {"dashboard_hosts": names}}, "test.toml")
    assert any(word in problem for problem in caught.value.problems)


def test_sixteen_dashboard_hosts_are_accepted():
    config = parse_config({"bridge": {"dashboard_hosts": [f"n{i}.home" for i in range(16)]}}, "test.toml")
    assert len(config.bridge.dashboard_hosts) == 16
