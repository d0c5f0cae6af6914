"""The live status line: what the monitor sees and decides, for a person watching.

The loop's hook only formats a short string a few times a second and offers it
to a Sideline; printing happens in the Sideline's thread.
"""

from __future__ import annotations

from typing import Callable, TextIO

from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict

TTY_INTERVAL_S = 0.1  # redraw the line ten times a second on a terminal
LOG_INTERVAL_S = 1.0  # one line a second when the output is a file or a pipe


def describe(verdict: Verdict, core: SafetyCore, t0_s: float) -> str:
    parts = [f"{verdict.t_s - t0_s:7.2f} s", f"{verdict.state.value.upper():8s}"]
    if core.has_belt:
        parts.append(f"belt {core.overspeed.speed_mps:4.2f} m/s")
    if core.has_range and core.range_drift.margin_m is not None:
        parts.append(f"rear margin {core.range_drift.margin_m:4.2f} m")
    parts.append(f"imu age {max(0.0, verdict.t_s - core.imu_health.last_good_t_s) * 1000:3.0f} ms")
    if verdict.state is LatchState.TRIPPED and verdict.trip is not None:
        parts.append(f"tripped: {verdict.trip.reason} ({verdict.trip.detail})")
    elif verdict.problems:
        parts.append("problem: " + verdict.problems[0].detail)
    return "  ".join(parts)


class StatusLine:
    def __init__(self, out: TextIO, *, t0_s: float = 0.0) -> None:
        self.out = out
        self.t0_s = t0_s
        self.is_tty = out.isatty()
        self._interval_s = TTY_INTERVAL_S if self.is_tty else LOG_INTERVAL_S
        self._next_s = -float("inf")

    def tick_hook(self, offer: Callable[[str], bool]) -> Callable[[Verdict, SafetyCore], None]:
        """An on_tick for the Daemon: a line every interval, and at once on a trip."""
        def on_tick(verdict: Verdict, core: SafetyCore) -> None:
            if verdict.t_s >= self._next_s or verdict.is_new_trip:
                self._next_s = verdict.t_s + self._interval_s
                offer(describe(verdict, core, self.t0_s) + ("\n" if verdict.is_new_trip else ""))
        return on_tick

    def handle(self, line: str) -> None:
        if self.is_tty:
            self.out.write("\r" + line.ljust(100)[:160])
        else:
            self.out.write(line.rstrip("\n") + "\n")
        self.out.flush()
