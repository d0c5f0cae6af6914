"""The relay keeper's loop and the daemon's side of it, in this process: what the keeper does with the
relay for each message the daemon sends, on a clock the test passes, and what the daemon reads back.

The keeper's loop (`serve`) runs on a real socket pair with a desk relay; a scripted daemon sends
its messages when the keeper's clock reaches their time, then closes its end. Nothing here waits
on the wall clock beyond the keeper's own short waits for a message. Every test runs under a
generous alarm (far beyond what any takes), so a keeper that would wait forever on its socket fails
the test instead of hanging the run.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time

import pytest

from drivers.fake import FakeRelay
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.deadline import DeadlineRelay
from monitor.service.loop.keeper_lease import KeeperEvent, KeeperLease, KeeperState, next_state
from monitor.service.loop.relay_keeper import KeeperError, KeeperRelay, main, serve

TICK_S = 1 / 64  # each reading of the keeper's clock is one tick later (exact in binary)
LEASE_S = 4 * TICK_S
IDLE_S = 0.001  # the keeper's wait for a message while released, in real seconds: kept short


GUARD_S = 30.0  # no test here comes near it; a socket read that never returns would


class StillWaiting(Exception):
    """Not an OSError: nothing under test may take it for a socket's own timeout."""


@pytest.fixture(autouse=True)
def never_hangs():
    def stuck(signum, frame):
        raise StillWaiting(f"still waiting after {GUARD_S:.0f} s: something waits forever")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.setitimer(signal.ITIMER_REAL, GUARD_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


class ScriptedDaemon:
    """The daemon's end of the socket: sends each message when the keeper's clock reaches its time,
    and closes its end (the daemon exits) at `ends_s`."""

    def __init__(self, script: list[tuple[float, bytes]], ends_s: float) -> None:
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.script = sorted(script)
        self.ends_s = ends_s
        self.now_s = 0.0
        self.is_ended = False

    def clock(self) -> float:
        self.now_s += TICK_S
        while self.script and self.script[0][0] <= self.now_s:
            self.ours.send(self.script.pop(0)[1])
        if not self.is_ended and self.now_s >= self.ends_s:
            self.is_ended = True
            self.ours.shutdown(socket.SHUT_WR)  # the keeper reads the end of the daemon's messages
        return self.now_s

    def reports(self) -> list[bytes]:
        self.ours.setblocking(False)
        found = []
        while True:
            try:
                message = self.ours.recv(256)
            except BlockingIOError:
                return found
            if not message:
                return found
            found.append(message)


class DeskRelay(FakeRelay):
    """A desk relay whose monitoring contact the test sets, and that may refuse to energize."""

    def __init__(self, clock, *, refuses: bool = False) -> None:
        super().__init__(clock)
        self.refuses = refuses
        self.feedback_ok: bool | None = True  # None: the contact cannot be read

    def energize(self) -> None:
        if self.refuses:
            raise OSError("pin busy")
        super().energize()

    @property
    def is_feedback_ok(self) -> bool:
        if self.feedback_ok is None:
            raise OSError("contact unreadable")
        return self.feedback_ok


def keep(script: list[tuple[float, bytes]], ends_s: float, *, refuses: bool = False,
         feedback: dict[float, bool | None] | None = None) -> tuple[DeskRelay, list[bytes], KeeperLease]:
    """Run the keeper's loop to its end; the relay's changes and the keeper's reports."""
    daemon = ScriptedDaemon(script, ends_s)
    relay = DeskRelay(lambda: daemon.now_s, refuses=refuses)
    feedback = dict(feedback or {})

    def clock() -> float:
        now_s = daemon.clock()
        for at_s in sorted(t for t in feedback if t <= now_s):
            relay.feedback_ok = feedback.pop(at_s)
        return now_s

    lease = KeeperLease(LEASE_S)
    serve(daemon.theirs, relay, lease, clock=clock, idle_s=IDLE_S)
    return relay, daemon.reports(), lease


def t(ticks: int) -> float:
    return ticks * TICK_S


# -- the rules, every state and message -----------------------------------------------------------
RULES = {  # (state, message) -> state; a row per state, in the order of KeeperEvent
    KeeperState.RELEASED: [KeeperState.ENERGIZED, KeeperState.RELEASED, KeeperState.RELEASED,
                           KeeperState.RELEASED, KeeperState.ENDED],
    KeeperState.ENERGIZED: [KeeperState.ENERGIZED, KeeperState.RELEASED, KeeperState.ENERGIZED,
                            KeeperState.EXPIRED, KeeperState.ENDED],
    KeeperState.EXPIRED: [KeeperState.EXPIRED, KeeperState.EXPIRED, KeeperState.RELEASED,
                          KeeperState.EXPIRED, KeeperState.ENDED],
    KeeperState.ENDED: [KeeperState.ENDED] * 5,
}


@pytest.mark.parametrize("state", list(KeeperState))
def test_every_state_answers_every_message_as_the_rules_say(state):
    assert [next_state(state, event) for event in KeeperEvent] == RULES[state]


def test_a_new_keeper_holds_the_relay_released_and_waits_idle():
    lease = KeeperLease(LEASE_S)
    assert lease.state is KeeperState.RELEASED and lease.is_energized is False
    assert lease.wait_s(1.0, idle_s=0.25) == 0.25


def test_a_rearm_while_energized_does_not_renew_the_lease():
    lease = KeeperLease(LEASE_S)
    lease.on(KeeperEvent.HEARTBEAT, 1.0)
    lease.on(KeeperEvent.REARM, 1.0 + 3 * TICK_S)
    assert lease.judge(1.0 + 5 * TICK_S) == (1.0, 1.0 + 5 * TICK_S)


def test_a_lease_exactly_used_up_still_holds_and_a_tick_later_it_runs_out():
    lease = KeeperLease(LEASE_S)
    lease.on(KeeperEvent.HEARTBEAT, 2.0)
    assert lease.judge(2.0 + LEASE_S) is None and lease.is_energized is True
    assert lease.wait_s(2.0 + LEASE_S, idle_s=1.0) == 0.0
    assert lease.judge(2.0 + LEASE_S + TICK_S) == (2.0, 2.0 + LEASE_S + TICK_S)


def test_a_released_keeper_waits_idle_whatever_heartbeat_came_before():
    lease = KeeperLease(LEASE_S)
    lease.on(KeeperEvent.HEARTBEAT, 1.0)
    assert lease.wait_s(1.0 + TICK_S, idle_s=1.0) == 3 * TICK_S
    lease.on(KeeperEvent.RELEASE, 1.0 + TICK_S)
    assert lease.wait_s(1.0 + TICK_S, idle_s=1.0) == 1.0
    lease.on(KeeperEvent.HEARTBEAT, 2.0)
    lease.judge(3.0)
    assert lease.wait_s(3.0, idle_s=1.0) == 1.0  # expired: idle too


# -- the keeper's loop ---------------------------------------------------------------------------
def test_a_heartbeat_energizes_the_relay_and_the_daemons_exit_releases_it_and_ends_the_keeper():
    relay, reports, lease = keep([(t(1), b"E"), (t(3), b"E")], ends_s=t(5))
    assert relay.changes == [(t(2), True), (t(6), False)]  # each message is read at the next reading
    assert relay.is_closed and lease.state is KeeperState.ENDED
    assert reports == []  # a relay that followed every command: nothing to report


def test_heartbeats_within_the_lease_keep_the_relay_energized_without_a_break():
    script = [(t(k), b"E") for k in range(1, 40, 4)]  # one every 4 readings: within the lease
    relay, reports, _ = keep(script, ends_s=t(44))
    assert [on for _, on in relay.changes] == [True, False]  # energized once, released at the end only
    assert not any(r.startswith(b"X") for r in reports)


def test_silence_beyond_the_lease_releases_the_relay_and_tells_the_daemon_when():
    relay, reports, _ = keep([(t(1), b"E")], ends_s=t(20))
    # read at t(2); t(6) is exactly the lease later (still held), t(8) is past it (two readings a turn)
    assert relay.changes == [(t(2), True), (t(8), False)]
    expiries = [json.loads(r[1:]) for r in reports if r.startswith(b"X")]
    assert expiries == [[t(2), t(8)]]  # once, with the last heartbeat and the release


def test_after_the_lease_ran_out_heartbeats_do_nothing_until_a_person_rearms():
    script = [(t(1), b"E"), (t(10), b"E"), (t(12), b"E"), (t(14), b"A"), (t(16), b"E")]
    relay, reports, _ = keep(script, ends_s=t(18))
    assert relay.changes == [(t(2), True), (t(8), False), (t(16), True), (t(18), False)]


def test_a_release_from_the_daemon_releases_at_once():
    relay, _, _ = keep([(t(1), b"E"), (t(3), b"R")], ends_s=t(10))
    assert relay.changes == [(t(2), True), (t(4), False)]


def test_messages_it_does_not_know_change_nothing():
    relay, reports, _ = keep([(t(1), b"Z"), (t(3), b"EE"), (t(5), b"hello")], ends_s=t(8))
    assert relay.changes == [] and reports == []


def test_a_relay_that_cannot_be_energized_stays_released_and_the_daemon_is_told(capsys):
    relay, reports, _ = keep([(t(1), b"E"), (t(3), b"E")], ends_s=t(5), refuses=True)
    assert relay.changes == [] and not relay.is_energized
    assert reports == [b"F0", b"F1"]  # once, not at every heartbeat; following again once released
    assert "could not be energized (OSError: pin busy)" in capsys.readouterr().err


def test_a_relay_that_can_be_energized_again_is_reported_following():
    daemon_script = [(t(1), b"E"), (t(3), b"R")]
    relay, reports, _ = keep(daemon_script, ends_s=t(8), feedback={t(2): False, t(5): True})
    assert reports == [b"F0", b"F1"]  # each change of the monitoring contact, once


def test_a_monitoring_contact_that_cannot_be_read_counts_as_not_following():
    relay, reports, _ = keep([(t(1), b"E")], ends_s=t(5), feedback={t(2): None})
    assert reports == [b"F0"]


def test_the_keeper_waits_for_a_message_while_released_and_ends_when_the_daemon_does():
    relay, reports, lease = keep([], ends_s=t(6))
    assert relay.changes == [] and lease.state is KeeperState.ENDED and relay.is_closed


class ResetSocket:
    """The keeper's end of the socket, whose every read fails as a reset connection does."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def send(self, message: bytes) -> int:
        return self.sock.send(message)

    def recv(self, size: int) -> bytes:
        raise ConnectionResetError("reset by peer")


def test_a_connection_that_fails_to_read_counts_as_the_daemon_gone():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    relay = DeskRelay(lambda: 0.0)
    lease = KeeperLease(LEASE_S)
    serve(ResetSocket(theirs), relay, lease, clock=lambda: 0.0, idle_s=IDLE_S)
    assert lease.state is KeeperState.ENDED and relay.is_closed
    ours.close()
    theirs.close()


# -- the keeper process's start, in this process --------------------------------------------------
built: list[dict] = []


def desk_relay(section: dict) -> FakeRelay:
    """The keeper's relay factory for these tests."""
    built.append(section)
    return FakeRelay(lambda: 0.0)


def broken_relay(section: dict) -> FakeRelay:
    raise KeyError("pin")


def start_keeper(*args: str) -> tuple[int, list[bytes]]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.shutdown(socket.SHUT_WR)  # the daemon is gone at once: the keeper ends after its start
    code = main(["--fd", str(theirs.detach()), "--lease-s", "0.04", *args])
    ours.setblocking(False)
    said = []
    while True:
        try:
            message = ours.recv(4096)
        except BlockingIOError:
            break
        if not message:
            break
        said.append(message)
    ours.close()
    return code, said


def test_the_keeper_builds_its_relay_from_the_factory_and_its_json_and_says_ready():
    built.clear()
    code, said = start_keeper("--relay", f"{__name__}:desk_relay", "--relay-args", '{"pin": 27}')
    assert code == 0 and said == [b"K"] and built == [{"pin": 27}]


def test_a_keeper_whose_relay_cannot_be_built_says_why_and_stops():
    code, said = start_keeper("--relay", f"{__name__}:broken_relay")
    assert code == 1 and said == [b"!KeyError: 'pin'"]


def unspeakable_error(section: dict) -> FakeRelay:
    raise ValueError("pin \udcff")  # not encodable as UTF-8


def test_an_error_that_cannot_be_encoded_is_still_said():
    code, said = start_keeper("--relay", f"{__name__}:unspeakable_error")
    assert code == 1 and said == [b"!ValueError: pin ?"]


def test_a_long_error_is_cut_to_four_thousand_bytes():
    code, said = start_keeper("--relay", f"{__name__}:long_error")
    assert code == 1 and len(said[0]) == 1 + 4000 and said[0].startswith(b"!ValueError: x\xc3\xa9")


def test_without_a_relay_factory_the_keeper_opens_the_gpio_relay_and_says_why_it_cannot():
    section = {"pin": 17, "active_high": True, "feedback_pin": None, "feedback_closed_when_energized": True,
               "feedback_settle_s": 0.05, "drive": "level"}
    code, said = start_keeper("--relay-args", json.dumps(section))  # on a desk: no GPIO chip
    assert code == 1 and said[0].startswith(b"!") and b"GPIO" in said[0]


@pytest.mark.parametrize("left_out", ["--fd", "--lease-s"])
def test_the_keeper_needs_its_socket_and_its_lease(left_out, capsys):
    args = {"--fd": "99", "--lease-s": "0.04"}
    del args[left_out]
    with pytest.raises(SystemExit) as stopped:
        main([word for pair in args.items() for word in pair])
    assert stopped.value.code == 2 and f"{left_out}" in capsys.readouterr().err


def test_a_relay_factory_name_without_its_function_is_refused_with_a_message():
    code, said = start_keeper("--relay", "drivers.fake")
    assert code == 1 and said[0].startswith(b"!ValueError")


def reporting_relay(section: dict) -> FakeRelay:
    """A keeper's relay that writes "built" and, when the keeper closes it, "closed" to a file."""
    path = section["report"]

    class Reporting(FakeRelay):
        def close(self) -> None:
            super().close()
            with open(path, "a") as report:
                report.write("closed\n")

    with open(path, "a") as report:
        report.write("built\n")
    return Reporting(time.monotonic)


def pid_relay(section: dict) -> FakeRelay:
    """A keeper's relay that writes the keeper's pid, then each change of its state, to a file."""
    path = section["report"]

    def say(line: str) -> None:
        with open(path, "a") as report:
            report.write(line + "\n")
        if "fifo" in section:  # the test waits on it: opened for reading before the keeper started
            fifo = os.open(section["fifo"], os.O_WRONLY | os.O_NONBLOCK)
            os.write(fifo, (line + "\n").encode())
            os.close(fifo)

    class Reporting(FakeRelay):
        def energize(self) -> None:
            if not self.is_energized:
                say("energized")
            super().energize()

        def release(self) -> None:
            if self.is_energized:
                say("released")
            super().release()

    say(str(os.getpid()))
    return Reporting(time.monotonic)


def keeper_that_exits(section: dict) -> FakeRelay:
    os._exit(3)


def keeper_that_hangs(section: dict) -> FakeRelay:
    time.sleep(60)
    raise AssertionError("not reached")


def long_error(section: dict) -> FakeRelay:
    raise ValueError("x" + "\u00e9" * 3000)  # cut at 4000 bytes, in the middle of a character


def test_a_started_keeper_has_its_relay_built_and_closing_the_daemons_side_ends_it(tmp_path):
    report = tmp_path / "relay.log"
    relay = KeeperRelay.start(LEASE_S, f"{__name__}:reporting_relay", {"report": str(report)})
    assert relay.lease_s == LEASE_S and relay.is_energized is False and relay.is_feedback_ok is True
    relay.close()
    assert report.read_text() == "built\nclosed\n"  # the keeper closed its relay and ended before close() returned
    relay.close()  # twice is harmless


def test_heartbeats_sent_while_the_keeper_is_not_running_are_each_read_as_one(tmp_path):
    report, fifo = tmp_path / "relay.log", tmp_path / "relay.fifo"
    os.mkfifo(fifo)
    said = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    relay = KeeperRelay.start(60.0, f"{__name__}:pid_relay", {"report": str(report), "fifo": str(fifo)})
    try:
        keeper_pid = int(report.read_text().split()[0])  # written before the keeper said it was ready
        os.kill(keeper_pid, signal.SIGSTOP)  # both heartbeats wait in its socket, side by side
        try:
            relay.energize()
            relay.energize()
        finally:
            os.kill(keeper_pid, signal.SIGCONT)
        heard = b""
        while b"energized" not in heard:  # until the keeper energized its relay (the guard ends a wait for nothing)
            select.select([said], [], [])
            try:
                heard += os.read(said, 100)
            except BlockingIOError:  # readable was a writer coming or going, not data: wait again
                continue
    finally:
        relay.close()
        os.close(said)
    assert report.read_text().split()[1:] == ["energized", "released"]


def test_a_keeper_that_ends_before_it_is_ready_is_said_to_have_ended():
    with pytest.raises(KeeperError, match=r"process ended before the relay was ready; its errors, if any, "
                                          r"are on stderr \(the journal\)"):
        KeeperRelay.start(LEASE_S, f"{__name__}:keeper_that_exits")


def test_a_keeper_that_does_not_answer_in_time_is_said_not_to_have_answered_and_is_ended():
    with pytest.raises(KeeperError, match="process did not answer before the relay was ready"):
        KeeperRelay.start(LEASE_S, f"{__name__}:keeper_that_hangs", start_timeout_s=0.05)


def test_a_long_error_from_the_keeper_is_cut_and_still_read():
    with pytest.raises(KeeperError, match="the relay could not be opened: ValueError: x\u00e9+\ufffd$"):
        KeeperRelay.start(LEASE_S, f"{__name__}:long_error")


# -- the daemon's side -------------------------------------------------------------------------------
@pytest.fixture
def pair():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    relay = KeeperRelay(ours, None, LEASE_S)
    theirs.setblocking(False)
    yield relay, theirs
    relay.close()
    theirs.close()


def received(theirs: socket.socket) -> list[bytes]:
    found = []
    while True:
        try:
            message = theirs.recv(16)
        except BlockingIOError:
            return found
        if not message:
            found.append(b"<end>")
            return found
        found.append(message)


def test_the_daemon_sends_a_heartbeat_per_energize_a_release_and_a_rearm(pair):
    relay, theirs = pair
    assert relay.is_energized is False
    relay.energize()
    assert relay.is_energized is True
    relay.energize()
    relay.release()
    assert relay.is_energized is False
    relay.rearm()
    assert received(theirs) == [b"E", b"E", b"R", b"A"]


def test_a_person_rearming_the_daemons_lease_rearms_the_keepers_too(pair):
    """After the keeper's lease ran out it follows heartbeats again only once told of the re-arm."""
    relay, theirs = pair
    permit = DeadlineRelay(relay, LEASE_S, clock=SimulatedClock(0.0), threaded=False)
    permit.rearm()
    permit.energize()
    assert received(theirs) == [b"A", b"E"]


def test_the_daemon_follows_the_keepers_report_of_the_monitoring_contact(pair):
    relay, theirs = pair
    assert relay.is_feedback_ok is True
    theirs.send(b"F0")
    assert not relay.is_feedback_ok
    theirs.send(b"F1")
    assert relay.is_feedback_ok
    assert relay.take_fault() is None


def test_each_release_by_the_keeper_trips_once_in_order_with_how_long_it_heard_nothing(pair):
    relay, theirs = pair
    theirs.send(b"X[10.0, 10.25]")
    theirs.send(b"X[20.0, 20.5]")
    assert relay.take_fault() == ("relay_keeper_released", {"silent_s": 0.25}, {"lease_s": LEASE_S})
    assert relay.take_fault() == ("relay_keeper_released", {"silent_s": 0.5}, {"lease_s": LEASE_S})
    assert relay.take_fault() is None


def test_a_garbled_release_report_still_trips_with_the_lease_as_the_silence(pair):
    relay, theirs = pair
    theirs.send(b"X[garbled")
    theirs.send(b"X[1]")
    expected = ("relay_keeper_released", {"silent_s": LEASE_S}, {"lease_s": LEASE_S})
    assert relay.take_fault() == expected and relay.take_fault() == expected
    assert relay.take_fault() is None


def test_a_lost_keeper_trips_once_and_the_daemon_sends_nothing_more(pair):
    relay, theirs = pair
    theirs.send(b"X[1.0, 1.5]")
    theirs.close()
    assert relay.take_fault() == ("relay_keeper_lost", {}, {})  # the loss first: it is the worse news
    assert relay.take_fault()[0] == "relay_keeper_released"
    assert relay.take_fault() is None
    relay.energize()  # no error, no wait
    assert relay.dropped == 0 and relay.is_feedback_ok


def test_closing_releases_the_relay_then_ends_the_keepers_socket(pair):
    relay, theirs = pair
    relay.energize()
    relay.close()
    assert received(theirs) == [b"E", b"R", b"<end>"]
    relay.close()  # twice is harmless


def test_every_message_the_keeper_had_no_room_for_is_counted_once(pair):
    relay, theirs = pair
    for _ in range(20_000):  # far more than the socket holds
        relay.energize()
    assert len(received(theirs)) + relay.dropped == 20_000 and relay.dropped > 0


def test_a_closed_daemon_side_still_answers_without_an_error(pair):
    relay, theirs = pair
    relay.close()
    assert relay.is_feedback_ok is True and relay.take_fault() == ("relay_keeper_lost", {}, {})


def test_the_keeper_explains_itself_and_its_arguments(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # whatever the terminal's width
    assert stopped.value.code == 0
    assert out.startswith("usage: treadguard-relay-keeper [-h] --fd FD --lease-s LEASE_S")
    for line in ("The relay keeper: a small process of its own that owns the relay line and releases it when "
                 "the loop's heartbeats stop. options:",
                 "--fd FD the daemon's end of the socket pair",
                 "--relay RELAY module:function building the relay driver",
                 "--relay-args RELAY_ARGS its argument, a JSON object"):
        assert line in out


def test_a_keeper_that_cannot_be_started_says_why(monkeypatch):
    monkeypatch.setattr("sys.executable", "/nonexistent/python3")
    with pytest.raises(KeeperError, match=r"^the relay keeper process could not be started \(No such file or directory\)$"):
        KeeperRelay.start(LEASE_S, f"{__name__}:desk_relay")


def test_the_keepers_gpio_relay_is_the_one_the_relay_section_describes(monkeypatch):
    from gpiozero.pins.mock import MockFactory

    from monitor.service.loop.relay_keeper import gpio_relay

    factory = MockFactory()
    monkeypatch.setattr("drivers.gpio_backend.real_pin_factory", lambda: factory)  # a desk has no GPIO chip
    section = {"pin": 17, "active_high": False, "feedback_pin": 27, "feedback_closed_when_energized": True,
               "feedback_settle_s": 0.0, "drive": "level"}
    relay = gpio_relay(section)
    coil, contact = factory.pin(17), factory.pin(27)
    assert coil.state is True and relay.is_feedback_ok is True  # released: active low, contact open
    relay.energize()
    assert coil.state is False and relay.is_energized is True
    assert relay.is_feedback_ok is False  # energized, yet the monitoring contact is still open
    contact.drive_low()
    assert relay.is_feedback_ok is True
    relay.release()
    assert coil.state is True and relay.is_feedback_ok is False  # released, contact still closed: welded
    relay.close()
    pumped = gpio_relay({**section, "pin": 22, "active_high": True, "feedback_pin": None, "drive": "charge_pump"})
    assert pumped.drive == "charge_pump" and factory.pin(22).state is False
    pumped.close()


def test_once_a_send_finds_the_keeper_gone_the_daemon_trips_once_and_reads_nothing_more(pair):
    relay, theirs = pair
    theirs.send(b"X[1.0, 1.5]")  # said just before it died, not yet read
    theirs.close()
    relay.energize()  # the send fails: the keeper is gone
    assert relay.take_fault() == ("relay_keeper_lost", {}, {})
    assert relay.take_fault() is None and relay.is_feedback_ok is True
