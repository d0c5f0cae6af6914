"""The relay keeper: a process of its own that releases a level-driven relay when the loop's
heartbeats stop, so a frozen daemon (SIGSTOP) cannot hold the belt running.

The keeper's rules (monitor.service.loop.keeper_lease) are tested on a clock the test passes.
The process tests run the real daemon (tests.daemon_harness: run_hardware on a fake I2C bus and
MockFactory) with its relay owned by the keeper process, whose relay is the real GpioRelay on
a MockFactory that writes each change of its pin to a FIFO; the test waits on that FIFO with
generous timeouts and asserts no timing.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from monitor.service.loop.keeper_lease import KeeperEvent, KeeperLease, KeeperState, next_state
from monitor.service.loop.relay_keeper import KeeperError, KeeperRelay
from tests.keeper_support import WATCHED_RELAY, DaemonProcess, PinWatcher, keeper_config

LEASE_S = 0.04
E, R, A = KeeperEvent.HEARTBEAT, KeeperEvent.RELEASE, KeeperEvent.REARM


# -- the rules, on the test's clock -----------------------------------------------------------
def test_the_relay_stays_released_from_start_until_the_first_heartbeat():
    lease = KeeperLease(LEASE_S)
    assert not lease.is_energized and lease.judge(100.0) is None
    lease.on(R, 100.0)
    lease.on(A, 100.0)
    assert not lease.is_energized
    lease.on(E, 100.0)
    assert lease.is_energized


def test_a_lease_runs_out_just_after_the_lease_without_a_heartbeat_and_not_before():
    lease = KeeperLease(LEASE_S)
    lease.on(E, 10.0)
    assert lease.judge(10.0 + LEASE_S) is None and lease.is_energized  # on the limit: still renewed
    expiry = lease.judge(10.0 + LEASE_S + 0.001)
    assert expiry is not None and not lease.is_energized
    assert expiry.heartbeat_s == 10.0 and expiry.released_s == pytest.approx(10.041)
    assert lease.judge(11.0) is None  # said once


def test_each_heartbeat_renews_the_lease():
    lease = KeeperLease(LEASE_S)
    for k in range(100):
        lease.on(E, 10.0 + k * 0.01)
        assert lease.judge(10.0 + k * 0.01 + 0.0099) is None
    assert lease.is_energized


def test_after_a_lease_ran_out_heartbeats_are_refused_until_a_rearm():
    lease = KeeperLease(LEASE_S)
    lease.on(E, 10.0)
    lease.judge(10.5)
    assert lease.on(E, 10.51) is KeeperState.EXPIRED and not lease.is_energized
    assert lease.on(R, 10.52) is KeeperState.EXPIRED
    assert lease.on(A, 10.53) is KeeperState.RELEASED
    assert lease.on(E, 10.54) is KeeperState.ENERGIZED


def test_a_release_releases_at_once_and_the_end_of_the_daemon_releases_for_good():
    lease = KeeperLease(LEASE_S)
    lease.on(E, 1.0)
    assert lease.on(R, 1.001) is KeeperState.RELEASED
    lease.on(E, 1.002)
    assert lease.on(KeeperEvent.DAEMON_GONE, 1.003) is KeeperState.ENDED
    for event in KeeperEvent:
        assert next_state(KeeperState.ENDED, event) is KeeperState.ENDED


def test_only_a_heartbeat_energizes_and_only_from_released_or_energized():
    for state in KeeperState:
        for event in KeeperEvent:
            after = next_state(state, event)
            if after is KeeperState.ENERGIZED:
                assert state is KeeperState.ENERGIZED or (state is KeeperState.RELEASED and event is E)
                assert event in (E, A)  # a re-arm keeps a running relay running; nothing else starts one


def test_the_keeper_waits_no_longer_than_the_lease_left():
    lease = KeeperLease(LEASE_S)
    assert lease.wait_s(5.0, idle_s=0.05) == 0.05
    lease.on(E, 5.0)
    assert lease.wait_s(5.01, idle_s=0.05) == pytest.approx(0.03)
    assert lease.wait_s(5.5, idle_s=0.05) == 0.0


def test_a_lease_must_be_positive():
    with pytest.raises(ValueError, match="lease_s"):
        KeeperLease(0.0)


# -- the process, on a desk ----------------------------------------------------------------------
def test_a_keeper_that_cannot_open_its_relay_says_why_and_nothing_starts(tmp_path):
    with pytest.raises(KeeperError, match="could not be opened: KeyError"):
        KeeperRelay.start(LEASE_S, WATCHED_RELAY, {}, start_timeout_s=60)


def test_the_daemons_side_never_waits_on_a_keeper_that_does_not_read():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    relay = KeeperRelay(ours, None, LEASE_S)
    for _ in range(100_000):  # far more than the socket holds: the extra ones are dropped, not waited for
        relay.energize()
    assert relay.dropped > 0 and relay.is_energized
    theirs.close()
    relay.release()
    assert relay.take_fault() == ("relay_keeper_lost", {}, {})
    assert relay.take_fault() is None
    relay.close()


@pytest.fixture
def daemon(tmp_path):
    config = tmp_path / "treadguard.toml"
    config.write_text(keeper_config(tmp_path))
    watcher = PinWatcher(str(tmp_path / "relay.fifo"))
    process = DaemonProcess(str(config), "--keeper-fifo", watcher.path)
    try:
        assert process.wait_for("treadguard: running"), process.output
        assert watcher.wait_for(False) is not None  # the keeper's relay starts released
        assert "if the monitor freezes: the relay keeper, a process of its own" in process.output  # and the daemon says what guards it
        yield process, watcher
    finally:
        process.stop()
        watcher.close()


def arm(process, watcher) -> None:
    assert not any(level for level, _ in watcher.changes)  # released from the start until a person arms it
    process.popen.send_signal(signal.SIGUSR1)  # a person's reset, as `systemctl kill -s USR1` sends it
    assert watcher.wait_for(True) is not None, process.output


def test_a_daemon_stopped_with_sigstop_has_its_relay_released_by_the_keeper_and_trips_when_it_runs_again(daemon):
    process, watcher = daemon
    arm(process, watcher)
    stopped_s = time.monotonic()  # the system's monotonic clock, which the keeper's relay reports on
    os.kill(process.pid, signal.SIGSTOP)
    try:
        released_s = watcher.wait_for(False)
        assert released_s is not None and released_s >= stopped_s, process.output  # released after the stop
        with open(f"/proc/{process.pid}/stat") as stat:
            assert stat.read().split(")")[1].split()[0] == "T"  # ... by the keeper alone
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert process.wait_for("treadguard: TRIPPED sensor_fault"), process.output  # the loop latches it
    assert "relay_keeper_released" in process.output or "loop_stalled" in process.output
    assert watcher.wait_for(True, timeout_s=1.0) is None  # and the relay stays released: the trip latched
    assert process.stop() == 0


def test_a_daemon_killed_outright_has_its_relay_released_by_the_keeper(daemon):
    process, watcher = daemon
    arm(process, watcher)
    keeper = process.keeper_pid()
    assert keeper is not None
    process.popen.kill()  # SIGKILL: no handler, no finally; the keeper sees its socket close
    assert watcher.wait_for(False) is not None
    process.popen.wait(20)
    assert is_gone(keeper)  # and the keeper ended, once the relay was released


def is_gone(pid: int, timeout_s: float = 20.0) -> bool:
    """True once pid has exited (gone, or a zombie nobody reaped yet)."""
    import select
    import time

    end_s = time.monotonic() + timeout_s
    while time.monotonic() < end_s:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(")")[1].split()[0] in ("Z", "X"):
                    return True
        except OSError:
            return True
        select.select([], [], [], 0.05)
    return False


def test_a_keeper_that_dies_trips_the_daemon_with_relay_keeper_lost(daemon):
    process, watcher = daemon
    arm(process, watcher)
    keeper = process.keeper_pid()
    assert keeper is not None
    os.kill(keeper, signal.SIGKILL)  # on a Pi the kernel frees the line and the pull-down opens the relay
    assert process.wait_for("relay_keeper_lost"), process.output
    assert "treadguard: TRIPPED sensor_fault" in process.output
    assert process.stop() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_sent_to_the_whole_service_ends_the_daemon_first_and_the_keeper_after_it(tmp_path, signum):
    # systemctl stop signals every process of the service; a Ctrl-C every process of the terminal's group
    config = tmp_path / "treadguard.toml"
    config.write_text(keeper_config(tmp_path))
    watcher = PinWatcher(str(tmp_path / "relay.fifo"))
    process = DaemonProcess(str(config), "--keeper-fifo", watcher.path, own_group=True)
    try:
        assert process.wait_for("treadguard: running"), process.output
        arm(process, watcher)
        keeper = process.keeper_pid()
        os.killpg(process.pid, signum)
        assert watcher.wait_for(False) is not None
        assert process.popen.wait(60) == 0
    finally:
        process.stop()
        watcher.close()
    assert is_gone(keeper)
    assert "relay_keeper_lost" not in process.output and "TRIPPED" not in process.output
    assert "Traceback" not in process.output
