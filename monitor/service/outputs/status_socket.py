"""The status socket: the daemon's live state, read-only, as JSON lines on a local UNIX socket.

The loop's tick hook (StatusPublisher) builds a small dict a few times a second,
and at once on a trip or a change of state, and offers it to the server. The
server (StatusServer) keeps a short queue that drops its oldest entry when full,
so the loop never waits; its own thread encodes each snapshot and writes it to
every connected client with non-blocking sends. A client that does not keep up
is dropped, never waited for. Nothing a client sends is ever looked at: it is
read into a scratch buffer and thrown away (and a client that keeps sending is
dropped), so nothing on this socket can arm the monitor or change anything.

The protocol (v 1), shared with the home bridge: on connect one snapshot at
once, then one every `status.interval_s` and one at once on every trip or state
change. Consumers ignore keys they do not know; keys are added, never renamed.
"""

from __future__ import annotations

import collections
import errno
import functools
import json
import math
import os
import selectors
import socket
import stat
import threading
import time
from typing import Any, Callable

from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Trip, Verdict

SNAPSHOT_VERSION = 1
SOCKET_MODE = 0o660  # owner and group: the bridge's user joins the treadguard group to read it
QUEUE_SIZE = 16  # snapshots waiting for the server thread; the oldest goes first when full
MAX_CLIENTS = 16
MAX_BACKLOG_BYTES = 32 * 1024  # unsent bytes a client may owe us (~40 snapshots) before it is dropped
CLIENT_SNDBUF_BYTES = 16 * 1024  # small kernel buffers, so a stalled client is found in seconds
POLL_S = 0.02  # the server thread looks at the queue this often (a trip reaches clients within it)
MAX_RECEIVED_BYTES = 64 * 1024  # no client has anything to say; one that keeps talking is dropped
_SCRATCH_BYTES = 4096


class StatusSocketError(OSError):
    """The status socket cannot be served; the message says what to check."""


# -- the snapshot (built in the loop's tick hook: small and quick) ------------------------------
def _number(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def trip_snapshot(trip: Trip, wall_time: float) -> dict:
    first = trip.problems[0]
    return {
        "t_s": _number(trip.t_s, 3), "wall_time": round(wall_time, 3), "reason": trip.reason,
        "detail": trip.detail, "describe": trip.describe(),
        "values": {k: _number(v) for k, v in first.values.items()},
        "problems": [{"reason": p.reason, "detail": p.detail,
                      "values": {k: _number(v) for k, v in p.values.items()}} for p in trip.problems],
    }


def refusal_snapshot(refusal: Trip, wall_time: float) -> dict:
    """A re-arm refused while tripped: when, and why (the checks that still fail)."""
    return {"t_s": _number(refusal.t_s, 3), "wall_time": round(wall_time, 3),
            "why": [{"reason": p.reason, "detail": p.detail,
                     "values": {k: _number(v) for k, v in p.values.items()}} for p in refusal.problems]}


class StatusPublisher:
    """A Daemon tick hook: a snapshot every interval_s, and at once on a trip or a change of
    state, offered to `offer` (which must never block). `extras` add keys of their own
    (e.g. the console's), each a callable returning a dict merged into the snapshot."""

    def __init__(self, offer: Callable[[dict], Any], *, interval_s: float, rate_hz: float,
                 daemon: Any = None, wall_clock: Callable[[], float] = time.time) -> None:
        self.offer = offer
        self.interval_s = interval_s
        self.rate_hz = rate_hz
        self.period_s = 1.0 / rate_hz
        self.daemon = daemon  # for its loop statistics and the relay; without it, counted here
        self.wall_clock = wall_clock
        self.extras: list[Callable[[], dict]] = []
        self.trips = 0
        self._next_s = -math.inf
        self._state = None
        self._trip: Trip | None = None  # the trip that latched (not a refused re-arm's explanation)
        self._seen_trip: Trip | None = None  # the core's latest, to notice a change
        self._refused: tuple[Trip, float] | None = None  # a refused re-arm since: its problems, wall time
        self._trip_wall_time = 0.0
        self._ticks = 0
        self._late_ticks = 0
        self._last_t_s: float | None = None

    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        self._ticks += 1
        last, self._last_t_s = self._last_t_s, verdict.t_s
        if last is not None and verdict.t_s - last > 1.5 * self.period_s:
            self._late_ticks += round((verdict.t_s - last) / self.period_s) - 1
        if verdict.is_new_trip:
            self.trips += 1
        is_change = verdict.state is not self._state or verdict.trip is not self._seen_trip
        if verdict.trip is not self._seen_trip:
            self._seen_trip = verdict.trip
            if verdict.trip is not None and not verdict.is_new_trip and verdict.state is LatchState.TRIPPED \
                    and self._trip is not None:
                # A re-arm refused: the core explains the latch anew, but nothing new tripped. The
                # snapshot keeps the trip that did (its time, its reason) and says the refusal beside it.
                self._refused = (verdict.trip, self.wall_clock())
            else:
                self._trip = verdict.trip
                self._trip_wall_time = self.wall_clock()
                self._refused = None
        self._state = verdict.state
        if is_change or verdict.t_s >= self._next_s - 1e-9:  # a tick due at the interval is on it
            self._next_s = verdict.t_s + self.interval_s
            self.offer(self.snapshot(verdict, core))

    def snapshot(self, verdict: Verdict, core: SafetyCore) -> dict:
        daemon = self.daemon
        if daemon is not None:
            stats = daemon.stats
            loop = {"rate_hz": self.rate_hz, "ticks": stats.ticks, "late_ticks": stats.late_ticks}
            for key, value in vars(stats).items():  # tick statistics the loop may keep besides
                if key not in loop and isinstance(value, (int, float)) and not isinstance(value, bool):
                    loop[key] = _number(float(value), 6) if isinstance(value, float) else value
            budget = getattr(daemon, "budget", None)
            try:
                relay_energized = bool(daemon.devices.relay.is_energized)
            except Exception:  # a relay that cannot say is not known to be energized
                relay_energized = False
        else:
            budget = None
            loop = {"rate_hz": self.rate_hz, "ticks": self._ticks, "late_ticks": self._late_ticks}
            relay_energized = verdict.is_relay_energized
        imu = core.imu_health
        snap = {
            "v": SNAPSHOT_VERSION,
            "wall_time": round(self.wall_clock(), 3),
            "t_s": _number(verdict.t_s, 3),
            "state": verdict.state.value,
            "relay_energized": relay_energized,
            "walking": core.direction.state.value,  # as the body shows it: forward, backward or unknown
            "belt_mps": _number(core.overspeed.speed_mps, 3) if core.has_belt else None,
            "rear_margin_m": _number(core.range_drift.margin_m, 3) if core.has_range else None,
            "imu_age_s": _number(max(0.0, verdict.t_s - imu.last_good_t_s), 3) if imu.has_answered else None,
            "trip": None if self._trip is None or verdict.trip is None else trip_snapshot(self._trip,
                                                                                         self._trip_wall_time),
            "rearm_refused": None if self._refused is None else refusal_snapshot(*self._refused),
            "trips": self.trips,
            "problems": [p.detail for p in verdict.problems],
            "loop": loop,
        }
        snap.update(direction_snapshot(core))
        if budget is not None:
            # Percentiles cost a walk over the histograms: the server thread works them out, not the loop.
            snap[DEFERRED] = functools.partial(_budget_figures, budget)
        for extra in self.extras:
            try:
                snap.update(extra())
            except Exception:  # an extra is decoration; the snapshot goes out without it
                pass
        return snap


def direction_snapshot(core: SafetyCore) -> dict:
    """The walking direction (declared and followed), the backward ceiling and steadiness."""
    d = core.direction
    last = d.changes[-1] if d.changes else None
    steadiness = core.steadiness
    c = core.ceiling
    return {
        "walking_declared": core.walking,
        "direction": {"cue": None if last is None else last.cue.value,
                      "since_t_s": None if last is None else _number(last.t_s, 3),
                      "gait": d.gait, "gait_correlation": _number(d.correlation, 3)},
        "ceiling": None if not core.is_ceiling_on else {
            "ceiling_mps": _number(c.ceiling_mps, 3), "is_over": c.is_over,
            "applies": d.state.value != "forward", "rise_in_s": _number(c.rise_in_s, 1)},
        "steadiness": {"step_cv": None if steadiness.step_cv is None else _number(steadiness.step_cv, 4),
                       "sway_radps": None if steadiness.sway_radps is None else _number(steadiness.sway_radps, 3),
                       "is_steady": steadiness.is_steady,
                       "session": {k: {kk: (None if vv is None else _number(float(vv), 4) if isinstance(vv, float)
                                            else vv) for kk, vv in v.as_dict().items()}
                                   for k, v in steadiness.session.items()}},
    }


DEFERRED = "_deferred"  # a callable whose dict the server thread adds to "loop" before sending


def _budget_figures(budget: Any) -> dict:
    """The loop's own timing account (monitor.service.loop.tick_budget): percentiles, gc; refreshed
    every few seconds. Worked out here, in the server thread, because a summary walks every
    histogram (about 75 us on a desktop, ten times that on a Pi Zero)."""
    figures = dict(budget.recent_summary())
    figures["started_late_ticks"] = budget.late_ticks  # its "late_ticks": ticks that began late
    return figures


# -- the socket ---------------------------------------------------------------------------------
def _check_folder(folder: str) -> None:
    """The socket's folder must exist and be writable only by us (or root): then nobody else
    can swap the socket for a symlink between our checks and our bind."""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        raise StatusSocketError(
            errno.ENOENT, f"the status socket's folder {folder} does not exist: the service makes it "
            f"(RuntimeDirectory=treadguard); otherwise create it or set status.socket_path") from None
    if not stat.S_ISDIR(info.st_mode):
        raise StatusSocketError(errno.ENOTDIR, f"{folder} is not a folder; check status.socket_path")
    if info.st_uid not in (os.geteuid(), 0) or info.st_mode & 0o022:
        raise StatusSocketError(
            errno.EPERM, f"the status socket's folder {folder} may be written by other users: "
            f"treadguard serves status only from a folder it alone controls (mode 0750 or 0700, "
            f"owned by treadguard); check status.socket_path")


def _remove_stale(path: str) -> None:
    """Remove a socket left by a daemon that died; refuse anything else (never follow a symlink)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a socket"
        raise StatusSocketError(
            errno.EEXIST, f"{path} exists and is {kind}: treadguard never removes or follows it; "
            f"remove it yourself, or set status.socket_path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        pass  # nobody listens: stale
    except OSError:
        pass  # not ours to read (permissions) or broken: stale as far as we can tell
    else:
        raise StatusSocketError(
            errno.EADDRINUSE, f"another treadguard is already serving status on {path} "
            f"(is the service running? `systemctl status treadguard`)")
    finally:
        probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def bind_fresh(path: str, mode: int = SOCKET_MODE) -> socket.socket:
    """A listening UNIX socket at path, made fresh: a stale socket is removed, anything else refused."""
    folder = os.path.dirname(os.path.abspath(path))
    _check_folder(folder)
    _remove_stale(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)  # fails if anything appeared at path meanwhile; bind never follows a link
        os.chmod(path, mode)
        listener.listen(MAX_CLIENTS)
        listener.setblocking(False)
    except OSError as err:
        listener.close()
        raise StatusSocketError(err.errno or errno.EIO,
                                f"cannot serve status on {path} ({err.strerror or err})") from None
    return listener


class _Client:
    __slots__ = ("sock", "backlog", "received")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.backlog = bytearray()
        self.received = 0


class StatusServer:
    """Serves snapshots to every client that connects; reads nothing that matters."""

    def __init__(self, path: str, *, mode: int = SOCKET_MODE, threaded: bool = True,
                 max_backlog_bytes: int = MAX_BACKLOG_BYTES, queue_size: int = QUEUE_SIZE) -> None:
        self.path = path
        self.max_backlog_bytes = max_backlog_bytes
        self._listener = bind_fresh(path, mode)
        self._inode = os.lstat(path).st_ino
        self._queue: collections.deque[dict | None] = collections.deque(maxlen=queue_size)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._clients: dict[int, _Client] = {}
        self._latest: bytes | None = None
        self._is_closed = False
        self._is_sending = False
        self.offered = 0
        self.dropped_snapshots = 0  # snapshots pushed out of the queue before the server sent them
        self.sent = 0
        self.accepted = 0
        self.dropped_clients = 0  # too slow, gone, or talking
        self.discarded_bytes = 0  # what clients sent: read and thrown away
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._serve, name="status-socket", daemon=True)
            self._thread.start()

    # -- the loop's side: never waits ----------------------------------------------------------
    def offer(self, snapshot: dict) -> bool:
        """Queue a snapshot (the oldest waiting one goes if the queue is full); the server thread
        picks it up within POLL_S. No system call here: one would hand the GIL to the server
        thread in the middle of the loop's tick."""
        self.offered += 1
        if len(self._queue) == self._queue.maxlen:
            self.dropped_snapshots += 1
        self._queue.append(snapshot)  # deque.append with maxlen: atomic, never blocks
        return True

    # -- the server's side ---------------------------------------------------------------------
    @property
    def clients(self) -> int:
        return len(self._clients)

    @property
    def is_idle(self) -> bool:
        """Nothing queued: every snapshot offered so far has been sent (or dropped)."""
        return not self._queue and not self._is_sending  # in this order: see poll()

    def poll(self, timeout_s: float | None = 0.0) -> None:
        """One pass: accept, discard what clients sent, send what is queued. The server thread
        calls this in a loop; tests call it themselves (threaded=False)."""
        for key, mask in self._selector.select(timeout_s):
            sock = key.fileobj
            if sock is self._listener:
                self._accept()
            else:
                client = key.data
                if mask & selectors.EVENT_READ:
                    self._discard_input(client)
                if mask & selectors.EVENT_WRITE and client.sock.fileno() in self._clients:
                    self._flush(client)
        self._is_sending = True  # set before the queue is emptied, cleared after its last line is sent
        try:
            while self._queue:
                snapshot = self._queue.popleft()
                if snapshot is not None:
                    self._send_all(snapshot)
        finally:
            self._is_sending = False
        with self._progress:
            self._progress.notify_all()

    def _send_all(self, snapshot: dict) -> None:
        deferred = snapshot.pop(DEFERRED, None)
        if deferred is not None:
            try:
                loop = snapshot["loop"]
                for key, value in deferred().items():
                    loop.setdefault(key, value)  # never over the loop's own ticks and late_ticks
            except Exception:  # a figure that cannot be worked out is left out, the snapshot goes
                pass
        try:
            line = (json.dumps(snapshot, separators=(",", ":"), allow_nan=False) + "\n").encode()
        except (TypeError, ValueError):  # not JSON (a NaN slipped through): this one is lost, not the server
            return
        self._latest = line
        for client in list(self._clients.values()):
            if len(client.backlog) + len(line) > self.max_backlog_bytes:
                self._drop(client)  # it has not read the last ~40 snapshots: slow or stalled
                continue
            client.backlog += line
            self._flush(client)
        self.sent += 1

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(self._clients) >= MAX_CLIENTS:
                sock.close()
                self.dropped_clients += 1
                continue
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CLIENT_SNDBUF_BYTES)
            except OSError:
                pass
            client = _Client(sock)
            self._clients[sock.fileno()] = client
            self._selector.register(sock, selectors.EVENT_READ, client)
            self.accepted += 1
            if self._latest is not None:
                client.backlog += self._latest  # one snapshot at once
                self._flush(client)

    def _discard_input(self, client: _Client) -> None:
        try:
            data = client.sock.recv(_SCRATCH_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client)
            return
        if not data:
            self._drop(client)  # the client hung up
            return
        client.received += len(data)
        self.discarded_bytes += len(data)  # never parsed, never looked at
        if client.received > MAX_RECEIVED_BYTES:
            self._drop(client)

    def _flush(self, client: _Client) -> None:
        if client.backlog:
            try:
                sent = client.sock.send(client.backlog)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:  # gone (EPIPE, ECONNRESET)
                self._drop(client)
                return
            del client.backlog[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.backlog else 0)
        try:
            self._selector.modify(client.sock, events, client)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, client: _Client) -> None:
        fd = client.sock.fileno()
        if self._clients.pop(fd, None) is None:
            return
        try:
            self._selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
        self.dropped_clients += 1

    def _serve(self) -> None:
        while not self._is_closed:
            try:
                self.poll(POLL_S)
            except Exception:  # a side output must never take the monitor down; keep serving
                if self._is_closed:
                    return

    def wait_for(self, condition: Callable[["StatusServer"], bool], timeout_s: float = 5.0) -> bool:
        """Wait (bounded) until the server thread has made condition true; for tests and the bench."""
        deadline = time.monotonic() + timeout_s
        with self._progress:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(min(remaining, 0.05))
        return True

    def close(self) -> None:
        """Stop serving, hang up on every client and remove the socket (if it is still ours)."""
        if self._is_closed:
            return
        self._is_closed = True
        if self._thread is not None:
            self._thread.join(2.0)
        for client in list(self._clients.values()):
            self._drop(client)
        try:
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass
        self._listener.close()
        self._selector.close()


# -- wiring it into a run -----------------------------------------------------------------------
def desk_socket_path() -> str:
    """Where a bench run serves status: the user's own runtime folder, never the service's."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return os.path.join(base, "treadguard-bench.sock")
    folder = os.path.join("/tmp", f"treadguard-{os.geteuid()}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        pass
    return os.path.join(folder, "bench-status.sock")


class StatusService:
    """A StatusServer and its publisher for one run; `hook` goes into the daemon's tick hooks."""

    def __init__(self, server: StatusServer, publisher: StatusPublisher) -> None:
        self.server = server
        self.publisher = publisher
        self.hook = publisher.on_tick

    @classmethod
    def start(cls, path: str, *, interval_s: float, rate_hz: float, daemon: Any = None,
              say: Callable[[str], None], threaded: bool = True) -> "StatusService | None":
        """Serve status at path, or say why not and return None: the monitor runs on without it
        (status is a side output; the relay never depends on it)."""
        try:
            server = StatusServer(path, threaded=threaded)
        except StatusSocketError as err:
            say(f"treadguard: no status socket: {err.strerror or err}; the monitor runs on without it")
            return None
        publisher = StatusPublisher(server.offer, interval_s=interval_s, rate_hz=rate_hz, daemon=daemon)
        return cls(server, publisher)

    def close(self) -> None:
        self.server.close()
