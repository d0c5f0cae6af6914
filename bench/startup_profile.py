"""What runs in the first seconds of `treadguard run --bench`: every tick's interval, and the collections, imports and thread starts between ticks.

    python bench/startup_profile.py [--seconds 2] [--slow-ms 15] [-- run --bench ARGS...]

Only the session's own loop is timed (not a warm-up before it). A tick that
comes late is explained by what happened since the tick before it:
a garbage collection (its generation and length), a module imported for the first
time, a thread started. Prints the ticks whose interval exceeded --slow-ms, then
a count of each kind of event in the first --seconds and in the rest.
Under emulation (qemu-user) or on a Pi Zero every first-time code path is slow,
so run it there too: `python3 bench/startup_profile.py` in the emulated root.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.cli.main import main as treadguard_main  # noqa: E402  (after the path, before any timing)
from monitor.service.loop.daemon import Daemon  # noqa: E402


class Recorder:
    """Ticks and events on one monotonic clock."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.events: list[tuple[float, str]] = []
        self._gc_started: float | None = None

    def on_gc(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
        elif self._gc_started is not None:
            took_ms = (now - self._gc_started) * 1e3
            self.events.append((now, f"gc gen{info['generation']} {took_ms:.1f} ms "
                                     f"({info['collected']} collected)"))

    def on_audit(self, event: str, args: tuple) -> None:
        if event == "import" and self.ticks:
            self.events.append((time.perf_counter(), f"import {args[0]}"))

    def on_thread(self, name: str) -> None:
        if self.ticks:
            self.events.append((time.perf_counter(), f"thread start {name}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="the start-up window (s)")
    parser.add_argument("--slow-ms", type=float, default=15.0, help="list ticks whose interval exceeds this (ms)")
    parser.add_argument("args", nargs="*", help="treadguard's arguments (default: run --bench)")
    options = parser.parse_args(argv)
    recorder = Recorder()
    real_tick = Daemon.tick
    real_start = threading.Thread.start

    ticks_by_daemon: dict[int, list[float]] = {}

    def tick(self: Daemon, now_s: float):
        at = time.perf_counter()
        ticks_by_daemon.setdefault(id(self), []).append(at)
        recorder.ticks.append(at)
        return real_tick(self, now_s)

    def start(self: threading.Thread) -> None:
        recorder.on_thread(self.name)
        real_start(self)

    Daemon.tick = tick  # type: ignore[method-assign]
    threading.Thread.start = start  # type: ignore[method-assign]
    gc.callbacks.append(recorder.on_gc)
    sys.addaudithook(recorder.on_audit)
    with contextlib.redirect_stdout(io.StringIO()) as shown:
        status = treadguard_main(options.args or ["run", "--bench"])
    gc.callbacks.remove(recorder.on_gc)
    trip = next((line for line in shown.getvalue().splitlines() if line.startswith("TRIPPED at")), "no trip line")
    # the session's own loop: the daemon that ticked most (a warm-up ticks a copy, in simulated time, before it)
    ticks = max(ticks_by_daemon.values(), key=len, default=[])
    if len(ticks) < 2:
        print(f"only {len(ticks)} tick(s): nothing to profile (exit {status})")
        return 1
    first = ticks[0]
    print(f"Python {sys.version.split()[0]}: {len(ticks)} ticks; {trip}")
    print(f"ticks whose interval exceeded {options.slow_ms:g} ms, with what happened since the tick before:")
    slow = 0
    for before, after in zip(ticks, ticks[1:]):
        interval_ms = (after - before) * 1e3
        if interval_ms <= options.slow_ms:
            continue
        slow += 1
        happened = [text for at, text in recorder.events if before <= at < after]
        print(f"  at {after - first:6.3f} s: {interval_ms:6.1f} ms   {'; '.join(happened) or 'nothing recorded'}")
    if not slow:
        print("  none")
    window_end = first + options.seconds
    for label, inside in ((f"in the first {options.seconds:g} s", lambda at: at < window_end),
                          ("after it", lambda at: at >= window_end)):
        kinds: dict[str, int] = {}
        for at, text in recorder.events:
            if at >= first and inside(at):
                kind = " ".join(text.split()[:2]) if text.startswith("gc") else text.split()[0]
                kinds[kind] = kinds.get(kind, 0) + 1
        counted = ", ".join(f"{kind}: {count}" for kind, count in sorted(kinds.items())) or "nothing"
        intervals = [b - a for a, b in zip(ticks, ticks[1:]) if inside(b)]
        worst = max(intervals) * 1e3 if intervals else 0.0
        print(f"{label}: longest interval {worst:.1f} ms; {counted}")
        for at, text in recorder.events:
            if at >= first and inside(at) and not text.startswith("gc"):
                print(f"  at {at - first:6.3f} s: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
