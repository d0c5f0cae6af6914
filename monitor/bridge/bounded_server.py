"""The dashboard's HTTP server: a fixed number of connections, each with a read timeout.

http.server's ThreadingHTTPServer starts a thread per connection and waits on each
for ever: sixty connections that never finish their request (slowloris) hold sixty
threads, past the bridge unit's TasksMax, and then every request fails with a
traceback. Here at most `max_connections` are open at once and each socket gives up
after `timeout_s` without a byte. When all are taken, the connection that has waited
longest for its request head is closed to make room: a browser's request arrives in
milliseconds, a slow attacker's never does, so people keep being served. When none
is waiting (all busy answering), the newcomer is closed at once (a browser tries
again). What was dropped is said in one line at most every `quiet_s`, never a
traceback.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import sys
import threading
import time
from typing import Callable

MAX_CONNECTIONS = 16  # the bridge unit's TasksMax is 32: the other threads need the rest
TIMEOUT_S = 5.0  # a request head (or a reader) silent this long is dropped
QUIET_S = 60.0  # at most one line about dropped connections this often


class DropReport:
    """Counts what the server dropped and says it in one line, at most once per quiet_s."""

    def __init__(self, say: Callable[[str], None], quiet_s: float = QUIET_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.quiet_s = quiet_s
        self.monotonic = monotonic
        self.counts: dict[str, int] = {}
        self.total = 0
        self._said_at: float | None = None
        self._lock = threading.Lock()

    def note(self, what: str) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1
            self.total += 1
            now = self.monotonic()
            if self._said_at is not None and now - self._said_at < self.quiet_s:
                return
            self._said_at = now
            parts = ", ".join(f"{n} {what}" for what, n in self.counts.items())
            self.counts = {}
        self.say(f"treadguard bridge: dashboard dropped {parts} (slow, half-open or too many connections; "
                 f"it keeps serving; at most one such line a minute)")


class BoundedHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple, handler: type, *, report: DropReport,
                 max_connections: int = MAX_CONNECTIONS, timeout_s: float = TIMEOUT_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.report = report
        self.max_connections = max_connections
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._waiting: dict[socket.socket, float] = {}  # no request head yet: socket -> accepted at
        handler = type(handler.__name__, (handler,), {"timeout": timeout_s})
        super().__init__(address, handler)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def process_request(self, request, client_address) -> None:
        with self._lock:
            if len(self._open) >= self.max_connections:
                oldest = min(self._waiting, key=self._waiting.__getitem__, default=None)
                if oldest is None:
                    self._refuse(request)
                    return
                del self._waiting[oldest]
                self._open.discard(oldest)
                _hang_up(oldest)  # its thread reads end-of-file and ends
                self.report.note("waiting connection(s) closed to make room")
            self._open.add(request)
            self._waiting[request] = self.monotonic()
        try:
            super().process_request(request, client_address)
        except RuntimeError:  # no thread could be started (the unit's task limit)
            self._forget(request)
            self.shutdown_request(request)
            self.report.note("connection(s) with no thread to serve them")

    def _refuse(self, request: socket.socket) -> None:
        self.shutdown_request(request)
        self.report.note("connection(s) refused while every slot was busy")

    def head_read(self, request: socket.socket) -> None:
        """The handler has the whole request head: it is being answered, not waiting."""
        with self._lock:
            self._waiting.pop(request, None)

    def _forget(self, request: socket.socket) -> None:
        with self._lock:
            self._open.discard(request)
            self._waiting.pop(request, None)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        self.report.note(f"request(s) that failed ({type(error).__name__})")


def _hang_up(request: socket.socket) -> None:
    try:
        request.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
