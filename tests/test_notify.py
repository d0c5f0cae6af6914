"""monitor.notify: the sd_notify client, against a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from monitor.service.outputs.notify import Notifier, WatchdogFeeder, watchdog_interval_s


@pytest.fixture
def listener(tmp_path):
    """A socket standing in for systemd's notify socket (a path in tmp_path)."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    yield sock, str(path)
    sock.close()


def received(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_messages_arrive_as_systemd_reads_them(listener):
    sock, path = listener
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": path})
    assert notifier.is_enabled
    assert notifier.ready("running; relay released")
    assert notifier.watchdog()
    assert notifier.status("tripped: fall\nREADY=1")  # a newline must not smuggle in an assignment
    assert notifier.stopping()
    assert notifier.extend_timeout(2.5)
    assert received(sock) == [
        "READY=1\nSTATUS=running; relay released",
        "WATCHDOG=1",
        "STATUS=tripped: fall READY=1",
        "STOPPING=1",
        "EXTEND_TIMEOUT_USEC=2500000",
    ]
    assert (notifier.sent, notifier.dropped) == (5, 0)
    notifier.close()
    assert not notifier.watchdog()


def test_abstract_socket_names_start_with_at():
    name = f"treadguard-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.setblocking(False)
    try:
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert received(sock) == ["READY=1"]
    finally:
        sock.close()


def test_without_notify_socket_it_does_nothing():
    for environ in ({}, {"NOTIFY_SOCKET": ""}):
        notifier = Notifier.from_environment(environ)
        assert not notifier.is_enabled
        assert not notifier.ready() and not notifier.watchdog()
        assert (notifier.sent, notifier.dropped) == (0, 0)


def test_a_relative_address_is_refused_not_used():
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": "relative/notify.sock"})
    assert not notifier.is_enabled
    assert "absolute path" in notifier.last_error
    assert not notifier.ready()


def test_a_missing_socket_is_dropped_and_counted_never_raised(tmp_path):
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert not notifier.watchdog()
    assert not notifier.watchdog()
    assert (notifier.sent, notifier.dropped) == (0, 2)
    assert "FileNotFoundError" in notifier.last_error


def test_a_full_socket_drops_at_once_instead_of_waiting(listener):
    sock, path = listener  # nobody reads: the receive queue fills up
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": path})
    for _ in range(10_000):  # the kernel's queue (net.unix.max_dgram_qlen, default 10 to 512) fills long before
        if not notifier.status("x" * 900):
            break
    assert notifier.dropped == 1
    assert "BlockingIOError" in notifier.last_error or "Resource temporarily unavailable" in notifier.last_error
    assert not notifier.watchdog()  # still full, still no waiting
    assert notifier.dropped == 2
    received(sock)  # systemd catches up
    assert notifier.watchdog()


def test_watchdog_interval_from_the_environment():
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "2000000"}) == 2.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}) == 2.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None  # meant for another process
    assert watchdog_interval_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "x"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "42"}, pid=42) == 0.5


def test_feeder_feeds_every_third_of_the_interval_only_while_healthy(listener):
    sock, path = listener
    feeder = WatchdogFeeder(Notifier.from_environment({"NOTIFY_SOCKET": path}), 3.0)
    fed_at = [t / 100 for t in range(0, 500) if feeder.feed_if_due(t / 100, is_healthy=True)]
    assert fed_at == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert received(sock) == ["WATCHDOG=1"] * 5
    # stalled or unhealthy: no more feeding, however much time passes
    assert not any(feeder.feed_if_due(t / 100, is_healthy=False) for t in range(500, 1000))
    assert received(sock) == []
    assert feeder.feed_if_due(10.0, is_healthy=True)  # healthy again: at once
    assert feeder.fed == 6


def test_feeder_retries_a_dropped_feed_on_the_next_tick(tmp_path):
    path = tmp_path / "late.sock"
    feeder = WatchdogFeeder(Notifier.from_environment({"NOTIFY_SOCKET": str(path)}), 2.0)
    assert not feeder.feed_if_due(0.0, True)  # no socket yet: dropped
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        assert feeder.feed_if_due(0.01, True)  # the very next tick, not a period later
        assert not feeder.feed_if_due(0.5, True)
        assert feeder.feed_if_due(0.68, True)
    finally:
        sock.close()


def test_feeder_without_watchdog_or_socket_never_sends(listener):
    sock, path = listener
    assert not WatchdogFeeder(Notifier.from_environment({"NOTIFY_SOCKET": path}), None).feed_if_due(0.0, True)
    assert not WatchdogFeeder(Notifier(None), 2.0).feed_if_due(0.0, True)
    environ = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1500000"}
    feeder = WatchdogFeeder.from_environment(Notifier.from_environment(environ), environ)
    assert feeder.interval_s == 1.5 and feeder.feed_if_due(0.0, True)
    assert received(sock) == ["WATCHDOG=1"]


def test_feeder_feeds_at_once_after_the_loops_clock_stepped_back_then_every_third_again(listener):
    sock, path = listener
    feeder = WatchdogFeeder(Notifier.from_environment({"NOTIFY_SOCKET": path}), 3.0)
    assert feeder.feed_if_due(100.0, is_healthy=True)
    assert not feeder.feed_if_due(100.99, is_healthy=True)  # just inside the period: not yet
    assert feeder.feed_if_due(90.0, is_healthy=True)  # the clock stepped back 11 s: due at once
    assert not feeder.feed_if_due(90.5, is_healthy=True)
    assert feeder.feed_if_due(91.0, is_healthy=True)  # and every period from the new time on
    assert received(sock) == ["WATCHDOG=1"] * 3
