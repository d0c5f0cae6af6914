"""A stand-in for the daemon's status socket that speaks exactly the v 1 protocol:
one snapshot at once on connect, then one every interval and one at once on every
change; it never reads from clients and drops a client it cannot write to at once.
Tests of the bridge's own parts use it; the end-to-end tests use the real daemon."""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from typing import Any


def snapshot(**changes: Any) -> dict[str, Any]:
    base = {"v": 1, "wall_time": time.time(), "t_s": 0.0, "state": "unarmed", "relay_energized": False,
            "walking": "forward", "belt_mps": 0.0, "rear_margin_m": None, "imu_age_s": 0.004, "trip": None,
            "trips": 0, "problems": [], "loop": {"rate_hz": 100.0, "ticks": 0, "late_ticks": 0},
            "a_key_from_a_newer_daemon": {"ignored": True}}
    base.update(changes)
    return base


class StatusFixture:
    def __init__(self, path: str, interval_s: float = 0.05) -> None:
        self.path = path
        self.interval_s = interval_s
        self.state = snapshot()
        self.received = b""  # anything a client sent (the bridge must send nothing)
        self.clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        self.server.bind(path)
        self.server.listen(4)
        self.server.setblocking(False)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "StatusFixture":
        self._thread.start()
        return self

    def set(self, **changes: Any) -> None:
        with self._lock:
            self.state.update(changes)
        self._changed.set()

    def _line(self) -> bytes:
        with self._lock:
            self.state["wall_time"] = time.time()
            return (json.dumps(self.state) + "\n").encode()

    def _send_all(self, line: bytes, clients: list[socket.socket]) -> None:
        for client in list(clients):
            try:
                client.send(line, socket.MSG_DONTWAIT)
            except OSError:  # full or gone: dropped, never waited for
                client.close()
                self.clients.remove(client)

    def _run(self) -> None:
        next_s = time.monotonic()
        while not self._stop.is_set():
            readable, _, _ = select.select([self.server] + self.clients, [], [], 0.01)
            for sock in readable:
                if sock is self.server:
                    try:
                        client, _ = self.server.accept()
                    except OSError:
                        continue
                    self.clients.append(client)
                    self._send_all(self._line(), [client])
                else:
                    try:
                        data = sock.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        sock.close()
                        self.clients.remove(sock)
                    else:
                        self.received += data  # discarded, only kept so a test can see it
            if self._changed.is_set() or time.monotonic() >= next_s:
                self._changed.clear()
                next_s = time.monotonic() + self.interval_s
                self._send_all(self._line(), self.clients)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for client in self.clients:
            client.close()
        self.server.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
