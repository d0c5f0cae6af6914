"""Done when: `treadguard status --json` against a daemon on fake hardware returns its state;
nothing written to the socket changes the daemon; a client that stops reading is dropped
and the loop never waits for it; a stale socket is replaced, anything else is refused."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path

import pytest

from drivers.fake import FakeBeltSensor, FakeImu, FakeRelay
from monitor.cli import run as run_module
from monitor.cli.main import main
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices
from monitor.service.outputs import status_socket
from monitor.service.outputs.status_socket import StatusPublisher, StatusServer, StatusSocketError
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050
from tests.support import IDENTITY_MOUNT, standing, with_settings

SNAPSHOT_KEYS = {"v", "wall_time", "t_s", "state", "relay_energized", "walking", "belt_mps", "rear_margin_m",
                 "imu_age_s", "trip", "trips", "problems", "loop"}


@pytest.fixture
def folder():
    """A short private folder: a UNIX socket's path must stay under 108 bytes."""
    path = tempfile.mkdtemp(prefix="tg-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_daemon(config=Config(), *, seconds=30.0):
    clock = SimulatedClock(0.0)
    imu = FakeImu(clock, standing(0.0, seconds, 200.0))
    belt = FakeBeltSensor(clock, [(k / 10, 0.0) for k in range(int(seconds * 10))])
    devices = Devices(imu=imu, relay=FakeRelay(clock), belt=belt)
    core = SafetyCore(config, start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=True, has_range=False)
    return Daemon(core, devices, clock), devices, clock


def reader(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.setblocking(False)
    return sock


def read_lines(sock: socket.socket, buffer: bytearray) -> list[dict]:
    """Whatever has arrived, as snapshots (non-blocking)."""
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        buffer += chunk
    lines = []
    while b"\n" in buffer:
        line, _, rest = bytes(buffer).partition(b"\n")
        buffer[:] = rest
        lines.append(json.loads(line))
    return lines


CONFIG = """\
[imu]
driver = "mpu6050"
mount = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]

[belt]
enabled = false

[relay]
driver = "gpio"
pin = 17
"""


def test_status_json_against_a_daemon_on_fake_hardware_returns_its_state(folder, monkeypatch):
    sock_path = os.path.join(folder, "status.sock")
    path = os.path.join(folder, "treadguard.toml")
    with open(path, "w") as f:
        f.write(CONFIG + f'\n[record]\ntrip_dir = "{folder}/trips"\n[status]\nsocket_path = "{sock_path}"\n')
    clock = SimulatedClock(50.0)
    bus = FakeMpu6050(clock)
    services = []
    start = status_socket.StatusService.start
    monkeypatch.setattr(status_socket.StatusService, "start",
                        classmethod(lambda cls, *a, **k: services.append(start(*a, **k)) or services[-1]))
    answers = {}

    def person(verdict, core):
        ticks = len(answers.setdefault("ticks", [])) + 1
        answers["ticks"].append(verdict.state)
        if ticks == 100:
            os.kill(os.getpid(), signal.SIGUSR1)  # a local admin arms it
        if ticks in (50, 200):  # unarmed, then armed: ask as a script would
            assert services[0].server.wait_for(lambda s: s.is_idle)
            out = io.StringIO()
            args = type("Args", (), {"socket": sock_path, "config": None, "json": True, "watch": False})
            from monitor.cli.status import status_command
            assert status_command(args, out) == 0
            answers[ticks] = json.loads(out.getvalue())

    monkeypatch.setattr(run_module, "run_hardware", functools.partial(
        run_module.run_hardware, clock=clock, i2c_bus=bus, pin_factory=clocked_factory(clock), until_s=53.0,
        on_tick=person))
    assert main(["run", "--config", path]) == 0

    before, after = answers[50], answers[200]
    assert SNAPSHOT_KEYS <= set(before) and before["v"] == 1
    assert before["state"] == "unarmed" and before["relay_energized"] is False and before["trip"] is None
    assert after["state"] == "armed" and after["relay_energized"] is True
    assert after["walking"] == "forward" and after["belt_mps"] is None  # no belt sensor in this config
    assert 0.0 <= after["imu_age_s"] < 0.05
    assert after["loop"]["rate_hz"] == 100.0 and after["loop"]["late_ticks"] == 0
    assert after["loop"]["skipped_ticks"] == 0 and after["loop"]["tick_wall_p99_s"] > 0  # the loop's own account
    # the newest snapshot: one every status.interval_s (0.25 s), the tick asked in is 200 (at 51.99 s)
    assert 175 <= after["loop"]["ticks"] <= 200 and 51.74 <= after["t_s"] <= 51.99
    assert not os.path.exists(sock_path)  # removed when the daemon stopped


def test_status_says_what_to_check_when_no_daemon_runs(folder, capsys):
    assert main(["status", "--socket", os.path.join(folder, "status.sock")]) == 1
    err = capsys.readouterr().err
    assert "no status socket at" in err and "the daemon is not running" in err
    assert "systemctl status treadguard" in err and "Traceback" not in err


def test_status_says_so_when_a_socket_is_left_but_nobody_answers(folder, capsys):
    path = os.path.join(folder, "status.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # a daemon that died: the socket file stays
    assert main(["status", "--socket", path]) == 1
    assert "no daemon answers" in capsys.readouterr().err


def test_status_for_a_person_fits_80_columns_and_names_the_trip(folder):
    from monitor.cli.status import describe

    snap = {"v": 1, "wall_time": 1000.0, "t_s": 12.3, "state": "tripped", "relay_energized": False,
            "walking": "backward", "belt_mps": 1.21, "rear_margin_m": 0.42, "imu_age_s": 0.004,
            "trip": {"t_s": 12.0, "wall_time": 940.0, "reason": "drift", "detail": "near_rear_edge",
                     "describe": "...", "values": {"rear_margin_m": 0.42, "min_rear_margin_m": 0.5}},
            "trips": 1, "problems": ["near_rear_edge"],
            "loop": {"rate_hz": 100.0, "ticks": 1230, "late_ticks": 2, "tick_wall_p99_s": 0.00042,
                     "tick_wall_max_s": 0.0031}}
    lines = describe(snap, now_wall_s=1000.0)
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert text.startswith("TRIPPED: the belt is stopped until a person arms it")
    assert "trip (1 min 0 s ago): drift (near_rear_edge)" in text
    assert "rear_margin_m = 0.42" in text and "min_rear_margin_m = 0.5" in text
    assert "belt 1.21 m/s" in text and "IMU age 4 ms" in text and "2 late" in text
    assert "0.42 ms (p99), 3.10 ms at most" in text


def serve(folder, daemon, *, interval_s=0.25, threaded=False, **server_args):
    server = StatusServer(os.path.join(folder, "status.sock"), threaded=threaded, **server_args)
    publisher = StatusPublisher(server.offer, interval_s=interval_s, rate_hz=100.0, daemon=daemon)
    return server, publisher


@pytest.mark.parametrize("arm", [False, True])
def test_nothing_written_to_the_socket_changes_the_daemon(folder, arm):
    """The same run twice, one with a client shouting commands and garbage at the socket:
    every tick's state, the relay's every change and the trip are the same, and every byte sent
    was read and thrown away."""
    def run(with_client):
        daemon, devices, clock = make_daemon()
        devices.imu.fail_reads(8.0, 8.05)  # a trip on the way, so a "reset" would have something to do
        server, publisher = serve(folder, daemon)
        states = []
        sent = 0
        client = reader(server.path) if with_client else None
        garbage = [b"arm\n", b"reset\n", b'{"command": "arm"}\n', b"SIGUSR1\n", b"\xff\x00\xfe" * 300,
                   b"energize\r\n", b"stop\n", b'{"v": 1, "state": "armed"}\n']

        def hook(verdict, core):
            nonlocal sent
            publisher.on_tick(verdict, core)
            states.append((verdict.state, verdict.is_relay_energized))
            if client is not None and len(states) % 25 == 0:
                data = garbage[len(states) // 25 % len(garbage)]
                client.sendall(data)
                sent += len(data)
            server.poll(0)
            server.poll(0)

        daemon.on_tick = hook
        stats = daemon.run(until_s=10.0, arm_at_start=arm)
        server.poll(0)
        discarded = server.discarded_bytes
        if client is not None:
            client.close()
        server.close()
        return states, list(devices.relay.changes), stats.first_trip, discarded, sent

    quiet = run(False)
    shouted = run(True)
    assert shouted[0] == quiet[0] and shouted[1] == quiet[1]
    assert (shouted[2] is None) == (quiet[2] is None)
    if arm:
        assert shouted[2].trip.detail == quiet[2].trip.detail == "imu_read_failed"
        assert shouted[0][-1] == (LatchState.TRIPPED, False)  # the trip holds: no "reset" re-armed it
    else:
        assert all(state == (LatchState.UNARMED, False) for state in shouted[0])  # "arm" armed nothing
    assert shouted[4] > 0 and shouted[3] == shouted[4]  # every byte read, and thrown away


def test_a_client_that_stops_reading_is_dropped_and_the_loop_never_waits(folder):
    """The real server thread, a client that never reads and one that does; 20 s of loop at
    a snapshot every tick. The stalled client is dropped, the reading one gets everything,
    and the loop ran every tick on time."""
    daemon, devices, clock = make_daemon()
    server, publisher = serve(folder, daemon, interval_s=0.01, threaded=True)
    stalled = reader(server.path)
    good = reader(server.path)
    received, buffer = [], bytearray()

    def hook(verdict, core):
        publisher.on_tick(verdict, core)
        if daemon.stats.ticks % 10 == 0:  # the server thread gets its time now and then, as on a Pi
            assert server.wait_for(lambda s: s.is_idle)
            received.extend(read_lines(good, buffer))

    daemon.on_tick = hook
    stats = daemon.run(until_s=20.0, arm_at_start=True)
    assert server.wait_for(lambda s: s.is_idle)
    received.extend(read_lines(good, buffer))
    assert stats.ticks == 2001 and stats.late_ticks == 0
    assert server.dropped_clients == 1 and server.clients == 1  # the stalled one went, the good one stays
    assert server.dropped_snapshots == 0 and server.sent == 2001
    assert len(received) == 2001 and received[-1]["t_s"] == 20.0
    stalled.setblocking(True)
    stalled.settimeout(5.0)
    tail = b""
    while chunk := stalled.recv(65536):  # it can read what the kernel still held, then the hang-up
        tail += chunk
    assert tail.endswith(b"\n") and len(tail) < len(json.dumps(received[0])) * len(received) / 2
    stalled.close()
    good.close()
    server.close()


def test_the_loop_never_waits_even_when_the_server_is_stuck(folder):
    """A server thread that never runs (unthreaded and never polled): every tick still runs on
    time; the queue keeps only the newest snapshots."""
    daemon, devices, clock = make_daemon()
    server, publisher = serve(folder, daemon, interval_s=0.01, threaded=False, queue_size=16)
    stalled = reader(server.path)
    daemon.on_tick = publisher.on_tick
    stats = daemon.run(until_s=10.0, arm_at_start=True)
    assert stats.ticks == 1001 and stats.late_ticks == 0
    assert server.offered == 1001 and server.dropped_snapshots == 1001 - 16
    server.poll(0)
    server.poll(0)
    got = read_lines(stalled, bytearray())
    assert got[-1]["t_s"] == 10.0 and len(got) == 16  # the newest ones, not the oldest
    stalled.close()
    server.close()


def test_a_stale_socket_is_replaced_and_anything_else_is_refused(folder):
    path = os.path.join(folder, "status.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()
    server = StatusServer(path, threaded=False)  # a dead daemon's socket: replaced
    assert oct(os.stat(path).st_mode & 0o777) == "0o660"
    with pytest.raises(StatusSocketError, match="another treadguard is already serving"):
        StatusServer(path, threaded=False)
    server.close()
    assert not os.path.exists(path)

    target = os.path.join(folder, "precious")
    with open(target, "w") as f:
        f.write("keep me")
    os.symlink(target, path)
    with pytest.raises(StatusSocketError, match="is a symlink: treadguard never removes or follows it"):
        StatusServer(path, threaded=False)
    assert os.path.islink(path) and Path(target).read_text() == "keep me"
    os.unlink(path)
    with open(path, "w") as f:
        f.write("a file")
    with pytest.raises(StatusSocketError, match="is not a socket"):
        StatusServer(path, threaded=False)


def test_a_socket_folder_others_may_write_is_refused(folder):
    os.chmod(folder, 0o777)
    with pytest.raises(StatusSocketError, match="may be written by other users"):
        StatusServer(os.path.join(folder, "status.sock"), threaded=False)
    with pytest.raises(StatusSocketError, match="does not exist"):
        StatusServer(os.path.join(folder, "missing", "status.sock"), threaded=False)


def test_without_a_socket_the_monitor_runs_on_and_says_why(folder):
    said = []
    service = status_socket.StatusService.start(os.path.join(folder, "nope", "s.sock"), interval_s=0.25,
                                                rate_hz=100.0, say=said.append)
    assert service is None and "no status socket" in said[0] and "runs on without it" in said[0]


def test_a_trip_is_sent_at_once_with_its_reason_and_values(folder):
    daemon, devices, clock = make_daemon(with_settings(loop={"rate_hz": 100.0}))
    devices.imu.fail_reads(3.0)
    server, publisher = serve(folder, daemon, interval_s=5.0)  # the interval alone would miss it
    client = reader(server.path)
    got, buffer = [], bytearray()

    def hook(verdict, core):
        publisher.on_tick(verdict, core)
        server.poll(0)
        got.extend(read_lines(client, buffer))

    daemon.on_tick = hook
    daemon.run(until_s=4.0, arm_at_start=True)
    tripped = [s for s in got if s["state"] == "tripped"]
    assert tripped and tripped[0]["t_s"] == pytest.approx(3.02)
    trip = tripped[0]["trip"]
    assert trip["reason"] == "sensor_fault" and trip["detail"] == "imu_read_failed"
    assert trip["values"] == {"failed_reads_in_a_row": 3.0} and tripped[0]["trips"] == 1
    assert got[0]["state"] == "armed" and got[0]["trips"] == 0
    client.close()
    server.close()


def _args(**kw):
    base = {"socket": None, "config": None, "json": False, "watch": False}
    base.update(kw)
    return type("Args", (), base)


def _snap(t_s, state="armed", **extra):
    snap = {"v": 1, "wall_time": 1000.0 + t_s, "t_s": t_s, "state": state, "relay_energized": state == "armed",
            "walking": "forward", "belt_mps": 1.2, "rear_margin_m": 0.9, "imu_age_s": 0.004, "trip": None,
            "trips": 0, "problems": [], "loop": {"rate_hz": 100.0, "ticks": int(t_s * 100), "late_ticks": 0}}
    snap.update(extra)
    return snap


@pytest.mark.parametrize("as_json", [False, True])
def test_watch_follows_the_daemon_until_it_stops_and_says_so(folder, as_json, capsys):
    import threading

    from monitor.cli.status import status_command

    server = StatusServer(os.path.join(folder, "status.sock"))
    server.offer(_snap(1.0))
    assert server.wait_for(lambda s: s.is_idle)
    out = io.StringIO()
    codes = []
    reader_thread = threading.Thread(target=lambda: codes.append(
        status_command(_args(socket=server.path, watch=True, json=as_json), out)))
    reader_thread.start()
    assert server.wait_for(lambda s: s.clients == 1)
    server.offer(_snap(1.25))
    server.offer(_snap(1.5, "tripped", trip={"reason": "fall", "detail": "fall_detected", "t_s": 1.5}))
    assert server.wait_for(lambda s: s.is_idle)
    assert server.wait_for(lambda s: s.sent == 3)
    server.close()  # the daemon stops
    reader_thread.join(5.0)
    lines = out.getvalue().splitlines()
    assert codes == [1] and len(lines) == 3  # one line per snapshot (not a terminal), then the end
    if as_json:
        assert [json.loads(line)["t_s"] for line in lines] == [1.0, 1.25, 1.5]
    else:
        assert all(len(line) <= 80 for line in lines)
        assert "ARMED" in lines[0] and "TRIPPED" in lines[2] and "fall (fall_detected)" in lines[2]
    assert "the daemon closed" in capsys.readouterr().err


def test_status_reads_the_socket_path_from_the_config(folder):
    from monitor.cli.status import status_command

    path = os.path.join(folder, "status.sock")
    config = os.path.join(folder, "treadguard.toml")
    with open(config, "w") as f:
        f.write(f'[status]\nsocket_path = "{path}"\n')
    server = StatusServer(path)
    server.offer(_snap(2.0))
    assert server.wait_for(lambda s: s.is_idle)
    out = io.StringIO()
    assert status_command(_args(config=config), out) == 0
    assert out.getvalue().startswith("ARMED: the belt may run")
    server.close()


def test_status_refuses_a_socket_that_is_not_treadguard(folder, capsys):
    import threading

    path = os.path.join(folder, "other.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def answer():
        conn, _ = listener.accept()
        conn.sendall(b"HELLO I AM A PRINTER\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    assert main(["status", "--socket", path]) == 1
    thread.join(5.0)
    listener.close()
    assert "not JSON: not a treadguard status socket" in capsys.readouterr().err


def test_status_with_a_broken_config_says_what_is_wrong(folder, capsys):
    config = os.path.join(folder, "treadguard.toml")
    with open(config, "w") as f:
        f.write('[status]\ninterval_s = "often"\n')
    assert main(["status", "--config", config]) == 2
    assert "status.interval_s must be a number" in capsys.readouterr().err


def test_a_refused_re_arm_is_said_as_such_and_never_as_a_new_trip(folder):
    """The IMU keeps failing; a person asks to re-arm at 3.5 s: refused. The snapshot keeps the trip
    that latched (its time and reason) and says the refusal beside it; the bridge sees one trip;
    `treadguard status` says "re-arm refused"."""
    from monitor.bridge.sessions import SessionRules, SessionTracker, TripSeen
    from monitor.bridge.snapshot import parse_snapshot
    from monitor.cli.status import describe as describe_status

    daemon, devices, clock = make_daemon(with_settings(loop={"rate_hz": 100.0}))
    devices.imu.fail_reads(3.0)
    wall = [1000.0]
    server, publisher = serve(folder, daemon, interval_s=0.1)
    publisher.wall_clock = lambda: wall[0]
    client = reader(server.path)
    got, buffer = [], bytearray()

    def hook(verdict, core):
        wall[0] = 1000.0 + verdict.t_s
        if abs(verdict.t_s - 3.5) < 0.005:
            core.request_reset()
        publisher.on_tick(verdict, core)
        server.poll(0)
        got.extend(read_lines(client, buffer))

    daemon.on_tick = hook
    daemon.run(until_s=4.0, arm_at_start=True)
    client.close()
    server.close()
    tripped = [s for s in got if s["state"] == "tripped"]
    first, last = tripped[0], tripped[-1]
    assert last["trip"] == first["trip"] and last["trips"] == 1  # the same trip, at the same time
    assert first.get("rearm_refused") is None and last.get("rearm_refused") is not None
    assert last["rearm_refused"]["wall_time"] == pytest.approx(1003.5, abs=0.02)
    assert last["rearm_refused"]["why"][0]["detail"].startswith("imu_")

    tracker = SessionTracker(SessionRules(idle_s=5.0))
    seen = [e for s in got for e in tracker.on_snapshot(parse_snapshot(json.dumps(s), s["wall_time"]))
            if isinstance(e, TripSeen)]
    assert len(seen) == 1 and seen[0].trip.detail == "imu_read_failed"

    text = "\n".join(describe_status(last, now_wall_s=1004.0))
    assert "re-arm refused (" in text and "trip (" in text and "trips since start: 1" in text


def test_status_says_what_releases_the_relay_if_the_monitor_freezes_in_80_columns(folder):
    from monitor.cli.status import describe
    from monitor.config.schema import Config
    from monitor.service.loop.stop_guard import protection

    snap = {"v": 1, "wall_time": 1000.0, "t_s": 1.0, "state": "armed", "relay_energized": True, "trips": 0,
            "frozen_guard": protection(Config(), has_keeper=True)}
    lines = describe(snap, now_wall_s=1000.0)
    assert all(len(line) <= 80 for line in lines)
    text = " ".join(" ".join(lines).split())
    assert "if the monitor freezes: the relay keeper, a process of its own, releases the relay 40 ms" in text
    assert "If the whole Pi freezes, only the hardware watchdog (up to 5 s) and the safety key" in text
