"""The whole chain on a desk: the bridge follows a bench run's socket (and its trip folder) while
the daemon's socket is absent, and the daemon's as soon as it is there."""

from __future__ import annotations

import os
import time

from monitor.bridge.service import Bridge
from monitor.bridge.sessions import SessionRules
from monitor.cli.bridge import desk_bench
from monitor.config.schema import Config
from tests.status_fixture import StatusFixture


def wait_until(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_bridge_follows_a_bench_run_while_the_daemons_socket_is_absent(tmp_path):
    daemon_socket, bench_socket = str(tmp_path / "daemon.sock"), str(tmp_path / "bench.sock")
    bench_trips, real_trips = str(tmp_path / "bench-trips"), str(tmp_path / "real-trips")
    bench = StatusFixture(bench_socket).start()
    bridge = Bridge(socket_path=daemon_socket, session_db=str(tmp_path / "sessions.sqlite"),
                    rules=SessionRules(idle_s=5.0), silence_s=0.5, state_interval_s=1.0,
                    dashboard_bind="127.0.0.1", dashboard_port=0, trip_dir=real_trips,
                    bench=(bench_socket, bench_trips), say=lambda line: None).start()
    daemon = None
    try:
        bench.set(state="armed", belt_mps=0.7)
        wait_until(lambda: bridge.live.view().is_live and bridge.live.view().snapshot.belt_mps == 0.7)
        assert bridge.client.path == bench_socket
        assert "bench-trips does not exist" in bridge.server.server.RequestHandlerClass.dashboard.home("n")
        daemon = StatusFixture(daemon_socket).start()  # the real daemon starts: it comes first
        daemon.set(state="unarmed", belt_mps=0.2)
        bench.stop()
        wait_until(lambda: bridge.client.path == daemon_socket and bridge.live.view().is_live
                   and bridge.live.view().snapshot.belt_mps == 0.2)
        assert "real-trips does not exist" in bridge.server.server.RequestHandlerClass.dashboard.home("n")
    finally:
        bridge.stop()
        bench.stop()
        if daemon is not None:
            daemon.stop()


def test_the_bench_socket_is_a_fallback_only_for_the_default_socket_and_in_a_folder_of_ones_own(
        tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    os.chmod(tmp_path, 0o700)
    assert desk_bench(Config()) == (str(tmp_path / "treadguard-bench.sock"),
                                    str(tmp_path / "state" / "treadguard" / "bench-trips"))
    os.chmod(tmp_path, 0o777)  # anyone could put a socket there and make up a state
    assert desk_bench(Config()) is None
    os.chmod(tmp_path, 0o700)
    from monitor.config.load import parse_config
    assert desk_bench(parse_config({"status": {"socket_path": str(tmp_path / "own.sock")}})) is None
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")  # the systemd service follows the daemon alone
    assert desk_bench(Config()) is None
