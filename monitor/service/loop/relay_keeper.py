"""The relay keeper: a small process of its own that owns the relay line and releases it when the loop's heartbeats stop.

Why a process: the run permit's watchdog thread (monitor.service.loop.deadline)
stops with the daemon's process. A daemon stopped by SIGSTOP, stuck in the
kernel, or paused while one thread holds the interpreter lock would keep a
level-driven relay energized until systemd's watchdog killed it, seconds later.
The keeper is not stopped with it: it waits on the daemon's socket for at most
the lease (40 ms at 100 Hz), and when no heartbeat came it releases the relay
(the rules are in monitor.service.loop.keeper_lease, pure and tested alone).

The daemon talks to it through `KeeperRelay`, a Relay whose every call is one
non-blocking send of one byte on an AF_UNIX SOCK_SEQPACKET socket pair: E (the
loop energized the relay on a healthy tick: a heartbeat), R (released), A (a
person armed the latch again). A send that would block is dropped and counted;
the loop never waits on the keeper. The keeper answers with K (ready: the relay
is open and released), !text (it could not open the relay), F1/F0 (the relay
does / does not follow the command: its monitoring contact, or a pin that could
not be driven) and X (it released the relay because the heartbeats stopped:
the times of the last heartbeat and of the release, on the system's monotonic
clock, which both processes share).

What ends how:
* the daemon frozen or stopped: no heartbeat for the lease, the keeper releases;
* the daemon exits or dies: its end of the socket closes, the keeper releases at once
  and exits;
* the keeper dies: the kernel frees its GPIO line (with strict_gpiod the pin goes back
  to an input), the pin floats and the pull-down on the relay input (wiring/) releases
  the relay; the daemon's next
  send fails and it trips `relay_keeper_lost`;
* the keeper's own start fails: the daemon starts nothing.

The relay driver is built in the keeper by a factory named "module:function"
called with a JSON object, so tests give it a gpiozero MockFactory relay whose
pin they can watch from another process.
"""

from __future__ import annotations

import argparse
import importlib
import json
import select
import socket
import subprocess
import sys
import time
from typing import Any, Callable

from drivers.interfaces import Relay
from monitor.service.loop.child_signals import stop_signals_blocked
from monitor.service.loop.keeper_lease import KeeperEvent, KeeperLease, KeeperState

HEARTBEAT, RELEASE, REARM = b"E", b"R", b"A"
READY, FAILED, FEEDBACK_OK, FEEDBACK_BAD, EXPIRED = b"K", b"!", b"F1", b"F0", b"X"
EVENTS = {HEARTBEAT: KeeperEvent.HEARTBEAT, RELEASE: KeeperEvent.RELEASE, REARM: KeeperEvent.REARM}
GPIO_RELAY = "monitor.service.loop.relay_keeper:gpio_relay"
START_TIMEOUT_S = 60.0  # a Pi Zero 2 W imports gpiozero and lgpio in a few seconds; this is far beyond
IDLE_WAIT_S = 0.05  # how often a released keeper looks at the monitoring contact


class KeeperError(Exception):
    """The relay keeper could not be started; the message says why and what to check."""


# -- the keeper process -------------------------------------------------------------------
def gpio_relay(section: dict[str, Any]) -> Relay:
    """The real relay on the Pi's GPIO chip, as the config's [relay] section describes it."""
    from drivers.gpio_backend import forbid_fallback, real_pin_factory
    from drivers.gpio_relay import GpioRelay

    forbid_fallback()
    return GpioRelay(section["pin"], time.monotonic, active_high=section["active_high"],
                     feedback_pin=section["feedback_pin"],
                     feedback_closed_when_energized=section["feedback_closed_when_energized"],
                     feedback_settle_s=section["feedback_settle_s"], drive=section["drive"],
                     pin_factory=real_pin_factory())


def serve(connection: socket.socket, relay: Relay, lease: KeeperLease, *,
          clock: Callable[[], float] = time.monotonic, idle_s: float = IDLE_WAIT_S) -> None:
    """Follow the daemon's messages until it is gone; the relay is released on every way out."""
    connection.setblocking(False)
    is_applied = False  # what the relay was last told: energized or not
    is_following = True
    reported_ok = True  # what the daemon was last told about the relay following its command
    try:
        while lease.state is not KeeperState.ENDED:
            select.select([connection], [], [], lease.wait_s(clock(), idle_s))
            now_s = clock()
            for event in _read_events(connection):
                lease.on(event, now_s)
            expiry = lease.judge(now_s)
            if lease.is_energized != is_applied:
                is_applied = lease.is_energized
                is_following = _apply(relay, is_applied)
            if expiry is not None:
                _tell(connection, EXPIRED + json.dumps(list(expiry)).encode())
            is_ok = is_following and _is_feedback_ok(relay)
            if is_ok != reported_ok:
                reported_ok = is_ok
                _tell(connection, FEEDBACK_OK if is_ok else FEEDBACK_BAD)
    finally:
        relay.release()
        relay.close()


def _read_events(connection: socket.socket) -> list[KeeperEvent]:
    """Every message waiting, in order; the end of the daemon's socket as DAEMON_GONE."""
    events: list[KeeperEvent] = []
    while True:
        try:
            message = connection.recv(16)
        except BlockingIOError:
            return events
        except OSError:
            message = b""
        if not message:
            events.append(KeeperEvent.DAEMON_GONE)
            return events
        event = EVENTS.get(message)
        if event is not None:
            events.append(event)


def _apply(relay: Relay, is_energized: bool) -> bool:
    """Set the relay; False when it could not be energized (it is released then)."""
    if not is_energized:
        relay.release()
        return True
    try:
        relay.energize()
    except Exception as err:
        relay.release()
        print(f"treadguard: relay keeper: the relay could not be energized ({type(err).__name__}: {err}); "
              f"it is released. Check the relay's pin and wiring", file=sys.stderr, flush=True)
        return False
    return True


def _is_feedback_ok(relay: Relay) -> bool:
    try:
        return bool(relay.is_feedback_ok)
    except Exception:  # the monitoring contact cannot be read: it cannot vouch for the relay
        return False


def _tell(connection: socket.socket, message: bytes) -> None:
    """One report to the daemon; dropped if its socket is full (it reads every tick)."""
    try:
        connection.send(message)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="treadguard-relay-keeper", description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="the daemon's end of the socket pair")
    parser.add_argument("--lease-s", type=float, required=True)
    parser.add_argument("--relay", default=GPIO_RELAY, help="module:function building the relay driver")
    parser.add_argument("--relay-args", default="{}", help="its argument, a JSON object")
    args = parser.parse_args(argv)
    connection = socket.socket(fileno=args.fd)
    try:
        module_name, function_name = args.relay.split(":")
        relay = getattr(importlib.import_module(module_name), function_name)(json.loads(args.relay_args))
    except Exception as err:
        _tell(connection, FAILED + f"{type(err).__name__}: {err}".encode("utf-8", "replace")[:4000])
        return 1
    relay.release()
    _tell(connection, READY)
    serve(connection, relay, KeeperLease(args.lease_s))
    return 0


# -- the daemon's side ----------------------------------------------------------------------
class KeeperRelay(Relay):
    """The relay as the daemon sees it with a keeper: every call one non-blocking send, never a wait."""

    def __init__(self, connection: socket.socket, process: subprocess.Popen | None, lease_s: float) -> None:
        self.lease_s = lease_s
        self.dropped = 0  # messages the keeper's socket had no room for
        self._connection = connection
        self._process = process
        self._is_energized = False
        self._is_feedback_ok = True
        self._is_gone = False
        self._is_gone_said = False
        self._expiries: list[tuple[float, float]] = []
        connection.setblocking(False)

    @classmethod
    def start(cls, lease_s: float, relay_target: str = GPIO_RELAY, relay_args: dict | None = None, *,
              start_timeout_s: float = START_TIMEOUT_S) -> "KeeperRelay":
        """Start the keeper process and wait (at start only) until its relay is open and released."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "monitor.service.loop.relay_keeper", "--fd", str(theirs.fileno()),
                   "--lease-s", repr(lease_s), "--relay", relay_target, "--relay-args",
                   json.dumps(relay_args or {})]
        try:  # the keeper lives as long as the daemon's socket, whatever stop the service gets
            with stop_signals_blocked():
                process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except OSError as err:
            ours.close()
            raise KeeperError(f"the relay keeper process could not be started ({err.strerror or err})") from None
        finally:
            theirs.close()
        ours.settimeout(start_timeout_s)
        try:
            answer = ours.recv(4096)
        except (socket.timeout, OSError):
            answer = None
        if answer != READY:
            ours.close()
            _end(process)
            if answer and answer.startswith(FAILED):
                raise KeeperError(f"the relay could not be opened: {answer[1:].decode('utf-8', 'replace')}")
            why = "did not answer" if answer is None else "ended"
            raise KeeperError(f"the relay keeper process {why} before the relay was ready; "
                              f"its errors, if any, are on stderr (the journal)")
        return cls(ours, process, lease_s)

    # -- the loop's side (never waits) ------------------------------------------------------
    def energize(self) -> None:
        self._send(HEARTBEAT)
        self._is_energized = True

    def release(self) -> None:
        self._send(RELEASE)
        self._is_energized = False

    def rearm(self) -> None:
        """A person armed the latch again: the keeper may follow heartbeats after an expiry."""
        self._send(REARM)

    @property
    def is_energized(self) -> bool:
        return self._is_energized

    @property
    def is_feedback_ok(self) -> bool:
        self._read_reports()
        return self._is_feedback_ok

    def take_fault(self) -> tuple[str, dict[str, float], dict[str, float]] | None:
        """What the keeper did that the loop must trip on, once: (detail, values, limits)."""
        self._read_reports()
        if self._is_gone and not self._is_gone_said:
            self._is_gone_said = True
            return "relay_keeper_lost", {}, {}
        if self._expiries:
            heartbeat_s, released_s = self._expiries.pop(0)
            return "relay_keeper_released", {"silent_s": released_s - heartbeat_s}, {"lease_s": self.lease_s}
        return None

    def _send(self, message: bytes) -> None:
        if self._is_gone:
            return
        try:
            self._connection.send(message)
        except BlockingIOError:
            self.dropped += 1
        except OSError:
            self._is_gone = True

    def _read_reports(self) -> None:
        while not self._is_gone:
            try:
                message = self._connection.recv(256)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:
                self._is_gone = True
            elif message in (FEEDBACK_OK, FEEDBACK_BAD):
                self._is_feedback_ok = message == FEEDBACK_OK
            elif message.startswith(EXPIRED):
                try:
                    heartbeat_s, released_s = json.loads(message[1:])
                    self._expiries.append((float(heartbeat_s), float(released_s)))
                except (ValueError, TypeError):
                    self._expiries.append((0.0, self.lease_s))

    def close(self) -> None:
        """Release, then end the keeper: closing our end is its signal to release and exit."""
        if self._connection.fileno() >= 0:
            self.release()
            self._connection.close()
        if self._process is not None:
            _end(self._process)
            self._process = None


def _end(process: subprocess.Popen, timeout_s: float = 2.0) -> None:
    """Wait a bounded time for the keeper to exit, then kill it (the pull-down releases the relay)."""
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass


if __name__ == "__main__":
    sys.exit(main())
