"""Clocks for the loop: the real monotonic clock, and a simulated one for tests,
replay and the bench, which runs as fast as the machine allows."""

from __future__ import annotations

import time
from typing import Callable


class MonotonicClock:
    """Wall time that never jumps: seconds from time.monotonic()."""

    def now(self) -> float:
        return time.monotonic()

    def __call__(self) -> float:
        return self.now()

    def sleep_until(self, t_s: float) -> None:
        delay_s = t_s - self.now()
        if delay_s > 0:
            time.sleep(delay_s)


MAX_SLEEP_S = 0.05  # a scaled sleep wakes at least this often (real time) to see a wake()


class ScaledClock(MonotonicClock):
    """Real time sped up (or slowed) by `speed`, starting at start_s: for the bench.

    A sleep is cut into real-time pieces of at most MAX_SLEEP_S, and ends early
    after wake() (a signal handler calls it), so at any speed a Ctrl-C or a
    re-arm is acted on within a fraction of a second. `monotonic` and `sleep`
    are for tests."""

    def __init__(self, start_s: float = 0.0, speed: float = 1.0, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.speed = speed
        self._monotonic = monotonic
        self._sleep = sleep
        self._origin_s = monotonic()
        self.start_s = start_s
        self._is_woken = False

    def now(self) -> float:
        return self.start_s + (self._monotonic() - self._origin_s) * self.speed

    def restart(self) -> None:
        """Be at start_s again from now: the bench's set-up before its loop is not played."""
        self._origin_s = self._monotonic()

    def wake(self) -> None:
        """End the sleep in progress (or the next one) now."""
        self._is_woken = True

    def sleep_until(self, t_s: float) -> None:
        while not self._is_woken:
            delay_s = (t_s - self.now()) / self.speed
            if delay_s <= 0:
                break
            self._sleep(min(delay_s, MAX_SLEEP_S))
        self._is_woken = False


class SimulatedClock:
    """Time that moves only when the loop sleeps or a test advances it."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.t_s = start_s

    def now(self) -> float:
        return self.t_s

    def __call__(self) -> float:
        return self.t_s

    def sleep_until(self, t_s: float) -> None:
        if t_s > self.t_s:
            self.t_s = t_s

    def advance(self, dt_s: float) -> None:
        self.t_s += dt_s
