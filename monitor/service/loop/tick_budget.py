"""The loop's account of itself: how long each tick took (wall and CPU), how late it started, what gc cost.

A real-time loop is judged by its tails, not its average, so every figure is a
histogram with fixed log-spaced bins: memory stays flat however long the daemon
runs, and a percentile costs one pass over a few hundred counters. Adding a
duration is a few arithmetic operations; the loop pays about a microsecond a
tick for all of this.
"""

from __future__ import annotations

import gc
import math
import time
from typing import Any, Callable

# Bins: 1 us to 100 s, 20 per decade (each bin ~12 % wide). Percentiles are read as
# the upper edge of the bin that holds them, so they never flatter the loop.
_MIN_S = 1e-6
_PER_DECADE = 20
_DECADES = 8
_BINS = _PER_DECADE * _DECADES
_LOG_MIN = math.log10(_MIN_S)


class Histogram:
    """Durations in seconds; count, max and percentiles with flat memory."""

    __slots__ = ("counts", "count", "max_s", "total_s")

    def __init__(self) -> None:
        self.counts = [0] * (_BINS + 1)  # the last bin holds everything beyond 100 s
        self.count = 0
        self.max_s = 0.0
        self.total_s = 0.0

    def add(self, duration_s: float) -> None:
        if duration_s <= _MIN_S:
            index = 0
        else:
            index = int((math.log10(duration_s) - _LOG_MIN) * _PER_DECADE) + 1
            if index > _BINS:
                index = _BINS
        self.counts[index] += 1
        self.count += 1
        self.total_s += duration_s
        if duration_s > self.max_s:
            self.max_s = duration_s

    def percentile_s(self, q: float) -> float | None:
        """The duration at or below which a fraction q of the ticks fell (bin upper edge, at most the max)."""
        if not self.count:
            return None
        rank = q * self.count
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if n and seen >= rank:
                edge = 10 ** (_LOG_MIN + index / _PER_DECADE)
                return min(edge, self.max_s)
        return self.max_s

    def summary(self, prefix: str) -> dict[str, float | None]:
        return {
            f"{prefix}_p50_s": self.percentile_s(0.5),
            f"{prefix}_p99_s": self.percentile_s(0.99),
            f"{prefix}_p999_s": self.percentile_s(0.999),
            f"{prefix}_max_s": self.max_s if self.count else None,
        }


class TickBudget:
    """Per-tick wall and CPU time, start lateness, late and skipped ticks, gc pauses.

    `late_after_s`: a tick that starts more than this after its due time counts
    as late (a tenth of the period by default: the sleep overshot).
    """

    def __init__(self, period_s: float, *, late_after_s: float | None = None,
                 wall_clock: Callable[[], float] = time.perf_counter,
                 cpu_clock: Callable[[], float] = time.thread_time) -> None:
        self.period_s = period_s
        self.late_after_s = period_s / 10 if late_after_s is None else late_after_s
        self.wall_clock = wall_clock
        self.cpu_clock = cpu_clock
        self.wall = Histogram()
        self.cpu = Histogram()
        self.start_late = Histogram()  # how long after its due time each tick began
        self.gc_pause = Histogram()
        self.ticks = 0
        self.late_ticks = 0
        self.skipped_ticks = 0
        self.gc_collections = [0, 0, 0]
        self.gc_full_in_loop = 0
        self.is_in_loop = False
        self._gc_started_s = 0.0
        self._wall0 = 0.0
        self._cpu0 = 0.0
        self._cached: dict[str, Any] | None = None  # recent_summary()'s copy, and the tick it was made at
        self._cached_at = 0

    # -- around each tick -------------------------------------------------------------
    def tick_started(self, lateness_s: float) -> None:
        self._wall0 = self.wall_clock()
        self._cpu0 = self.cpu_clock()
        self.start_late.add(lateness_s if lateness_s > 0.0 else 0.0)
        if lateness_s > self.late_after_s:
            self.late_ticks += 1

    def tick_done(self) -> None:
        self.wall.add(self.wall_clock() - self._wall0)
        self.cpu.add(self.cpu_clock() - self._cpu0)
        self.ticks += 1

    def skipped(self, n: int) -> None:
        self.skipped_ticks += n

    # -- garbage collection ---------------------------------------------------------------
    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """A gc.callbacks entry: every collection's pause, and full ones while the loop runs."""
        if phase == "start":
            self._gc_started_s = self.wall_clock()
            return
        generation = info.get("generation", 0)
        self.gc_collections[generation] += 1
        if self.is_in_loop:  # the one full collection before the loop starts is not the loop's
            self.gc_pause.add(self.wall_clock() - self._gc_started_s)
            if generation == 2:
                self.gc_full_in_loop += 1

    def summary(self) -> dict[str, Any]:
        """The figures, for the status socket and `treadguard check`."""
        out: dict[str, Any] = {"ticks": self.ticks, "late_ticks": self.late_ticks,
                               "skipped_ticks": self.skipped_ticks}
        out.update(self.wall.summary("tick_wall"))
        out.update(self.cpu.summary("tick_cpu"))
        out.update(self.start_late.summary("start_late"))
        out["gc_collections"] = list(self.gc_collections)
        out["gc_full_in_loop"] = self.gc_full_in_loop
        out["gc_pause_max_s"] = self.gc_pause.max_s if self.gc_pause.count else None
        return out

    def recent_summary(self, every_ticks: int = 500) -> dict[str, Any]:
        """summary(), worked out again at most every `every_ticks` ticks: cheap enough for the
        loop's status hook, which asks a few times a second."""
        cached = self._cached
        if cached is None or self.ticks - self._cached_at >= every_ticks:
            self._cached = cached = self.summary()
            self._cached_at = self.ticks
        return cached

    def describe(self) -> str:
        """A few lines for a person."""
        s = self.summary()

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:.3f}"

        return "\n".join([
            f"ticks {s['ticks']}, late {s['late_ticks']} (started > {self.late_after_s * 1000:.1f} ms after due), "
            f"skipped {s['skipped_ticks']}",
            f"tick wall ms: p50 {ms(s['tick_wall_p50_s'])}  p99 {ms(s['tick_wall_p99_s'])}  "
            f"p99.9 {ms(s['tick_wall_p999_s'])}  max {ms(s['tick_wall_max_s'])}",
            f"tick CPU ms:  p50 {ms(s['tick_cpu_p50_s'])}  p99 {ms(s['tick_cpu_p99_s'])}  "
            f"p99.9 {ms(s['tick_cpu_p999_s'])}  max {ms(s['tick_cpu_max_s'])}",
            f"start late ms: p50 {ms(s['start_late_p50_s'])}  p99 {ms(s['start_late_p99_s'])}  "
            f"p99.9 {ms(s['start_late_p999_s'])}  max {ms(s['start_late_max_s'])}",
            f"gc collections by generation {s['gc_collections']}, full ones inside the loop "
            f"{s['gc_full_in_loop']}, longest pause in the loop {ms(s['gc_pause_max_s'])} ms",
        ])


class GcPolicy:
    """Garbage collection that never runs a full collection inside the loop.

    At start-up everything alive is collected once and frozen (moved out of the
    collector's view: gc.freeze), and automatic collection is turned off. The
    loop then asks, after each tick, for a young-generation collection when enough
    new containers piled up and the time until the next tick leaves room; a young
    collection touches only objects made since the last one (tens of
    microseconds). Objects the loop keeps are freed by reference counting; only
    cyclic garbage would wait, and the loop makes none on purpose.
    """

    def __init__(self, budget: TickBudget | None = None, *, young_threshold: int = 700,
                 min_slack_s: float = 0.002, gc_module: Any = gc) -> None:
        self.budget = budget
        self.young_threshold = young_threshold
        self.min_slack_s = min_slack_s
        self.gc = gc_module
        self.young_collections = 0
        self._middle_due = 0
        self._was_enabled = True

    def start(self) -> None:
        """Call once the daemon is set up, before the first tick."""
        g = self.gc
        if self.budget is not None and self.budget.on_gc not in g.callbacks:
            g.callbacks.append(self.budget.on_gc)
        g.collect()
        g.freeze()
        self._was_enabled = g.isenabled()
        g.disable()

    def between_ticks(self, slack_s: float) -> None:
        """After a tick: a young collection if one is due and there is room before the next tick."""
        if slack_s < self.min_slack_s:
            return
        g = self.gc
        if g.get_count()[0] < self.young_threshold:
            return
        self._middle_due += 1
        # every tenth young collection also sweeps the middle generation, as CPython's own
        # thresholds would, so objects that survived one collection do not pile up there
        generation = 1 if self._middle_due >= 10 else 0
        if generation:
            self._middle_due = 0
        g.collect(generation)
        self.young_collections += 1

    def stop(self) -> None:
        g = self.gc
        if self.budget is not None and self.budget.on_gc in g.callbacks:
            g.callbacks.remove(self.budget.on_gc)
        g.unfreeze()
        if self._was_enabled:
            g.enable()
