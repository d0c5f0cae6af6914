"""Clocks for the loop: the real monotonic clock, and a simulated one for tests,
replay and the bench, which runs as fast as the machine allows."""

from __future__ import annotations

import time


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


class ScaledClock(MonotonicClock):
    """Real time sped up (or slowed) by `speed`, starting at start_s: for the bench."""

    def __init__(self, start_s: float = 0.0, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin_s = time.monotonic()
        self.start_s = start_s

    def now(self) -> float:
        return self.start_s + (time.monotonic() - self._origin_s) * self.speed

    def sleep_until(self, t_s: float) -> None:
        delay_s = (t_s - self.now()) / self.speed
        if delay_s > 0:
            time.sleep(delay_s)


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
