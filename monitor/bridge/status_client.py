"""Reads the daemon's status socket, read only, and reconnects with back-off.

The client connects to the UNIX socket, reads newline-delimited snapshots and
hands each one on. It never writes a byte: the daemon's socket has no commands,
and the bridge does not even try. When the daemon restarts (the socket goes away,
refuses, or falls silent for `silence_s`), the client waits and tries again, each
wait twice the last up to `max_delay_s`, and back to the shortest once snapshots
flow again. With a `fallback` (a desk bench run's socket), each attempt follows the
daemon's socket when it is there and the fallback only when it is not.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

from monitor.bridge.snapshot import Snapshot, SnapshotError, parse_snapshot

MAX_LINE_BYTES = 65536  # a snapshot is a few hundred bytes; a longer line is not one


@dataclass
class Backoff:
    """The wait before the next attempt: doubles on each failure, resets on success."""

    first_s: float = 0.25
    max_s: float = 10.0
    _next_s: float = 0.0

    def __post_init__(self) -> None:
        self._next_s = self.first_s

    def next_delay_s(self) -> float:
        delay_s = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay_s

    def reset(self) -> None:
        self._next_s = self.first_s


class StatusClient:
    """A thread that follows the status socket and calls back on each snapshot and on each
    change of the link: on_link(True, "") when snapshots flow, on_link(False, why) when not."""

    def __init__(self, path: str, on_snapshot: Callable[[Snapshot], None],
                 on_link: Callable[[bool, str], None], *, silence_s: float = 2.0,
                 backoff: Backoff | None = None, wall_clock: Callable[[], float] = time.time,
                 fallback: str | None = None) -> None:
        self.primary = path
        self.fallback = fallback
        self.path = path  # the socket followed now, or last followed (the daemon's until one was)
        self.tried = path  # the socket last tried
        self.on_snapshot = on_snapshot
        self.on_link = on_link
        self.silence_s = silence_s
        self.backoff = backoff or Backoff()
        self.wall_clock = wall_clock
        self.snapshots = 0
        self.bad_lines = 0
        self.connects = 0
        self._stop = threading.Event()
        self._is_live = False
        self._why = ""
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="status-client", daemon=True)

    def start(self) -> "StatusClient":
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv
            except OSError:
                pass
        self._thread.join(timeout_s)

    @property
    def is_live(self) -> bool:
        return self._is_live

    def _set_link(self, is_live: bool, why: str = "") -> None:
        """Tell on a change of the link, and of the reason it is down (the page shows it)."""
        if is_live != self._is_live or (not is_live and why != self._why):
            self._is_live = is_live
            self._why = why
            self.on_link(is_live, why)

    def _run(self) -> None:
        last_why = ""
        while not self._stop.is_set():
            why = self._follow_once()
            self._set_link(False, why)
            if why != last_why:
                _say(f"treadguard bridge: status socket {self.tried}: {why}; trying again with back-off")
                last_why = why
            self._stop.wait(self.backoff.next_delay_s())

    def _follow_once(self) -> str:
        """Connect and read until the link breaks; returns why it broke."""
        path = self.primary
        if self.fallback and not os.path.exists(self.primary) and os.path.exists(self.fallback):
            path = self.fallback
        self.tried = path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket = sock
        try:
            sock.settimeout(self.silence_s)
            try:
                sock.connect(path)
            except FileNotFoundError:
                also = f", nor a bench run's at {self.fallback}" if self.fallback else ""
                return f"not there{also} (is treadguard running, with [status] enabled?)"
            except PermissionError:
                return "permission denied (the bridge's user must be in the socket's group)"
            except OSError as err:
                return f"cannot connect ({err.strerror or err})"
            self.connects += 1
            self.path = path
            return self._read_lines(sock)
        finally:
            self._socket = None
            sock.close()

    def _read_lines(self, sock: socket.socket) -> str:
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = sock.recv(4096)
            except socket.timeout:
                return f"silent for {self.silence_s:g} s"
            except OSError as err:
                return f"connection lost ({err.strerror or err})"
            if not chunk:
                return "closed by the daemon"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > MAX_LINE_BYTES:
                return f"a line longer than {MAX_LINE_BYTES} bytes: not the status protocol"
            for line in lines:
                if line.strip():
                    self._handle(line)
        return "stopped"

    def _handle(self, line: bytes) -> None:
        try:
            snapshot = parse_snapshot(line, self.wall_clock())
        except SnapshotError as err:
            self.bad_lines += 1
            if self.bad_lines <= 3:
                _say(f"treadguard bridge: status socket {self.path}: a line was skipped ({err})")
            return
        self.snapshots += 1
        self.backoff.reset()
        self._set_link(True)
        self.on_snapshot(snapshot)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")  # one write: lines of other threads never run into it
    sys.stderr.flush()
