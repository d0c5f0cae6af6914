"""Telling systemd how the service is doing: the sd_notify protocol, never blocking.

systemd starts the service with NOTIFY_SOCKET set to an AF_UNIX datagram socket
(a path, or an abstract name written with a leading '@'). The service sends
newline-separated assignments to it: READY=1 once the devices are checked and
the relay is released, WATCHDOG=1 while the loop is healthy, STATUS=... for
`systemctl status`, STOPPING=1 on the way out. With WatchdogSec= set, systemd
also passes WATCHDOG_USEC (and WATCHDOG_PID): no WATCHDOG=1 within that time and
the service is killed, which releases the relay.

The safety loop calls this, so a send never waits: the socket is non-blocking
and the send is MSG_DONTWAIT. A send that would block, or fails in any way
(systemd gone, socket full, bad address), is dropped and counted, never raised.
Without NOTIFY_SOCKET (run by hand, in tests) the notifier does nothing.

Why not the `sdnotify` package from PyPI: its last release (0.3.2) is from
August 2017; its socket is blocking (a full socket buffer would stall the loop
inside sendto), it swallows errors without counting them, and it has no helper
for WATCHDOG_USEC/WATCHDOG_PID. The protocol is a single sendto; owning these
few lines is cheaper than a dependency that cannot promise "never waits".
(`systemd-python` needs libsystemd headers to build and is far more than this.)
"""

from __future__ import annotations

import os
import socket
from typing import Mapping

# A datagram larger than this is not a notification we send; systemd's own limit
# (NOTIFY_BUFFER_MAX) is 4 KiB, STATUS= text is cut well below it.
MAX_STATUS_CHARS = 1000


def _socket_address(value: str) -> str | None:
    """The address to send to: an absolute path, or '@name' as an abstract name ('\\0name')."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None  # relative paths are not allowed by the protocol; vsock: is not supported here


def _one_line(text: str) -> str:
    """STATUS= is one line: a newline would start another assignment."""
    return " ".join(str(text).split())[:MAX_STATUS_CHARS]


class Notifier:
    """Sends sd_notify messages without ever waiting; counts what it had to drop.

    Safe to call from the loop and a side thread alike (each send is one datagram).
    """

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.sent = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._socket: socket.socket | None = None
        if address is None:
            return
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
        except OSError as err:  # no AF_UNIX (RestrictAddressFamilies without it): nothing to send on
            self.last_error = f"cannot create the notify socket: {err}"
            return
        self._socket = sock

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Notifier":
        """The notifier systemd asked for with NOTIFY_SOCKET; a no-op one when it is unset."""
        environ = os.environ if environ is None else environ
        value = environ.get("NOTIFY_SOCKET", "")
        if not value:
            return cls(None)
        address = _socket_address(value)
        notifier = cls(address)
        if address is None:
            notifier.last_error = f"NOTIFY_SOCKET={value!r} is neither an absolute path nor '@name'; ignored"
        return notifier

    @property
    def is_enabled(self) -> bool:
        return self._socket is not None

    def send(self, message: str) -> bool:
        """Send one datagram now or never: True if the kernel took it, False if dropped."""
        sock = self._socket
        if sock is None:
            return False
        try:
            sock.sendto(message.encode("utf-8", "replace"), socket.MSG_DONTWAIT, self.address)
        except OSError as err:  # BlockingIOError (full), ConnectionRefused/FileNotFound (systemd gone), ...
            self.dropped += 1
            self.last_error = f"{type(err).__name__}: {err}"
            return False
        self.sent += 1
        return True

    # -- the messages ------------------------------------------------------------------
    def ready(self, status: str | None = None) -> bool:
        """The service is up: devices checked, relay released. Type=notify waits for this."""
        return self.send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more time to start or stop (EXTEND_TIMEOUT_USEC), e.g. while waiting for a device."""
        return self.send(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval_s(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """The watchdog timeout systemd set (WatchdogSec=), in seconds; None when there is none for us.

    WATCHDOG_USEC must be a positive integer. WATCHDOG_PID, when set, must name this
    process: a child that inherited the environment must not feed its parent's watchdog.
    """
    environ = os.environ if environ is None else environ
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    if "WATCHDOG_PID" in environ:
        try:
            watchdog_pid = int(environ["WATCHDOG_PID"])
        except ValueError:
            return None
        if watchdog_pid != (os.getpid() if pid is None else pid):
            return None
    return usec / 1_000_000


class WatchdogFeeder:
    """Sends WATCHDOG=1 from the loop, at most every interval/3, and only while healthy.

    Call feed_if_due(now_s, is_healthy) once per tick, after the relay was set, with
    the loop's own clock. A loop that stops ticking, or reports itself unhealthy,
    stops feeding, and systemd kills it within interval_s. A tripped loop that still ticks
    keeps feeding (the trip stays latched; a restart would not make anyone safer), also
    after its clock stepped back. A dropped send is
    retried on the next tick rather than waiting for the next period, so two
    periods of margin remain before the deadline.
    """

    def __init__(self, notifier: Notifier, interval_s: float | None, *, divisor: float = 3.0) -> None:
        self.notifier = notifier
        self.interval_s = interval_s
        self.period_s = None if not interval_s or interval_s <= 0 else interval_s / divisor
        self.last_fed_s: float | None = None
        self.fed = 0

    @classmethod
    def from_environment(cls, notifier: Notifier, environ: Mapping[str, str] | None = None) -> "WatchdogFeeder":
        return cls(notifier, watchdog_interval_s(environ))

    @property
    def is_enabled(self) -> bool:
        return self.period_s is not None and self.notifier.is_enabled

    def feed_if_due(self, now_s: float, is_healthy: bool) -> bool:
        """True when a WATCHDOG=1 was sent now."""
        if not is_healthy or not self.is_enabled:
            return False
        # A loop clock that stepped back (now before the last feed) is due at once: the loop ticks,
        # and systemd's watchdog counts real time, not the loop's.
        if self.last_fed_s is not None and 0.0 <= now_s - self.last_fed_s < self.period_s:
            return False
        if not self.notifier.watchdog():
            return False  # dropped: try again next tick
        self.last_fed_s = now_s
        self.fed += 1
        return True
