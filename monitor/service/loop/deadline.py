"""Permission to run that expires: the relay stays energized only while the loop renews it.

`DeadlineRelay` wraps the relay driver. Each healthy tick the loop energizes it
and calls `renew()`, which moves a deadline a few loop periods ahead on the
watchdog's own monotonic clock (never the loop's, which may be simulated, or
jump). A watchdog thread calls `check()` every fraction of that lease; once the
deadline has passed, whatever the loop is stuck in (a driver read that blocks,
a clock that jumped back, a long pause), it releases the relay itself and
records an `Expiry`. From then on `energize()` refuses until the loop's latch is
armed again by a person (`rearm()`), and the loop, when it next runs, takes the
expiry (`take_expiry()`) and trips the latch with `loop_stalled`, saying how long.

No lock is shared with the loop. Renewing is one attribute assignment, atomic
under the GIL. The watchdog raises the expired flag BEFORE it releases, and
`energize()` checks the flag AFTER it energizes and releases again if it is up,
so whichever order the two threads run in, the relay ends released; the
watchdog also releases again on every later check while the flag is up.

This bounds a stall of the loop's thread only while the watchdog thread can run:
a process stopped by SIGSTOP, a frozen Pi or a pause that holds the interpreter
lock stops it too. That is why, with the level drive, the relay line belongs to
the relay keeper, a process of its own (monitor.service.loop.relay_keeper) that
enforces the same lease on the loop's heartbeats; with the charge-pump drive the
circuit enforces it with no software at all. systemd's watchdog
(monitor.service.outputs.notify) and the hardware watchdog are the lines after them.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, NamedTuple

from drivers.interfaces import Relay


class Expiry(NamedTuple):
    """The watchdog released the relay: the lease had run out."""

    renewed_s: float  # the last renewal, on the watchdog's clock
    released_s: float  # when the watchdog released the relay, on its clock
    lease_s: float

    @property
    def overdue_s(self) -> float:
        """How long after the last renewal the relay was released."""
        return self.released_s - self.renewed_s


def lease_for(rate_hz: float, deadline_ticks: int) -> float:
    """The lease the loop renews each tick: deadline_ticks loop periods."""
    return deadline_ticks / rate_hz


class DeadlineRelay(Relay):
    """A relay energized only while its lease is renewed; a watchdog thread enforces it."""

    def __init__(self, relay: Relay, lease_s: float, *, clock: Callable[[], float] = time.monotonic,
                 poll_s: float | None = None, threaded: bool = True) -> None:
        """threaded=False: no watchdog thread; whoever holds the object calls check() (tests
        step it on their own clock)."""
        self.relay = relay
        self.threaded = threaded
        self.failures = 0
        self.lease_s = lease_s
        self.poll_s = poll_s if poll_s is not None else lease_s / 8
        self.clock = clock
        self.checks = 0
        self.expiries = 0
        self._deadline_s: float | None = None  # None: nothing to enforce (relay commanded released)
        self._renewed_s = 0.0
        self._is_expired = False
        self._expiry: Expiry | None = None  # waiting for the loop to take it
        self._stop = threading.Event()
        self._watch_thread: threading.Thread | None = None

    # -- the loop's side -----------------------------------------------------------------
    def energize(self) -> None:
        """Energize, unless the watchdog has released the relay since the last rearm()."""
        if self._is_expired:
            self.relay.release()
            return
        self.relay.energize()
        if self._is_expired:  # the watchdog fired while we energized: it wins
            self.relay.release()

    def renew(self) -> None:
        """The loop had a healthy tick and energized the relay: the lease starts again."""
        now_s = self.clock()
        self._renewed_s = now_s
        self._deadline_s = now_s + self.lease_s

    def release(self) -> None:
        self._deadline_s = None
        self.relay.release()

    def take_expiry(self) -> Expiry | None:
        """The expiry the watchdog recorded since the last call, once."""
        expiry = self._expiry
        if expiry is not None:
            self._expiry = None
        return expiry

    def rearm(self) -> None:
        """A person armed the latch again: energize() may work again (and a relay keeper's too)."""
        self._is_expired = False
        rearm_keeper = getattr(self.relay, "rearm", None)
        if rearm_keeper is not None:
            rearm_keeper()

    @property
    def is_expired(self) -> bool:
        return self._is_expired

    @property
    def is_energized(self) -> bool:
        return self.relay.is_energized

    @property
    def is_feedback_ok(self) -> bool:
        return self.relay.is_feedback_ok

    def close(self) -> None:
        self.stop_watchdog()
        self._deadline_s = None
        self.relay.close()

    # -- the watchdog's side ---------------------------------------------------------------
    def check(self) -> bool:
        """One watchdog step: release the relay if the lease ran out. True when it did now."""
        self.checks += 1
        deadline_s = self._deadline_s
        if self._is_expired:
            if self.relay.is_energized:
                self.relay.release()  # the loop energized in the same instant: release again
            return False
        if deadline_s is None:
            return False
        now_s = self.clock()
        if now_s <= deadline_s:
            return False
        self._is_expired = True  # first the flag, then the pin: see the module docstring
        self.relay.release()
        self._deadline_s = None
        self.expiries += 1
        self._expiry = Expiry(deadline_s - self.lease_s, now_s, self.lease_s)
        return True

    def start_watchdog(self) -> None:
        """Check every poll_s in a daemon thread until stop_watchdog()."""
        if self._watch_thread is not None or not self.threaded:
            return
        self._stop.clear()
        self._watch_thread = threading.Thread(target=self._watch, name="run-permit", daemon=True)
        self._watch_thread.start()

    def stop_watchdog(self) -> None:
        thread = self._watch_thread
        if thread is None:
            return
        self._stop.set()
        if thread is not threading.current_thread():
            thread.join(1.0)
        self._watch_thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):  # Event.wait times out on the monotonic clock
            try:
                self.check()
            except Exception:  # a relay that raises on release: count it and keep trying
                self.failures += 1
