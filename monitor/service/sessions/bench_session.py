"""What happened in a live bench session, for its status line and its closing summary.

A tick hook notes the latch's transitions (the first arm, each trip, each
re-arm, a refused re-arm) and the command notes how the session ended (the
trace ran out, a person pressed Ctrl-C, SIGTERM). The summary says it in one
true sentence, e.g. "stopped by you at 3.80 s, armed, no trip".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict
from monitor.service.outputs.status_line import StatusLine


@dataclass
class BenchSession:
    status: StatusLine
    t0_s: float = 0.0
    armed_s: list[float] = field(default_factory=list)  # every arm, the first one included
    trips: list[tuple[float, str, str]] = field(default_factory=list)  # (t from t0, reason, detail)
    refused: list[tuple[float, str]] = field(default_factory=list)  # (t from t0, why)
    stopped_by: str | None = None  # "you" (Ctrl-C), "SIGTERM"; None: the session ran to its end
    last_t_s: float | None = None
    state: LatchState = LatchState.UNARMED
    is_rearm_asked: bool = False

    def ask_rearm(self) -> None:
        """SIGUSR1 arrived: the core judges it at the next tick; this notes the answer."""
        self.is_rearm_asked = True

    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        t = verdict.t_s - self.t0_s
        was, self.state, self.last_t_s = self.state, verdict.state, t
        if verdict.state is LatchState.ARMED and was is not LatchState.ARMED:
            if self.armed_s:
                self.status.announce(f"re-armed by you at {t:.2f} s", verdict.t_s)
            self.armed_s.append(t)
        elif self.is_rearm_asked and verdict.state is not LatchState.ARMED:
            why = verdict.problems[0].detail if verdict.problems else "a check failed"
            self.refused.append((t, why))
            self.status.announce(f"re-arm refused: {why}", verdict.t_s)
        self.is_rearm_asked = False
        if verdict.is_new_trip and verdict.trip is not None:
            self.trips.append((t, verdict.trip.reason, verdict.trip.detail))

    @property
    def rearms_s(self) -> list[float]:
        return self.armed_s[1:]

    def summary(self) -> str:
        """One sentence: how it ended, the state then, and the trips and re-arms."""
        at = f"{self.last_t_s:.2f} s" if self.last_t_s is not None else "the start"
        how = {None: f"ended at {at}", "you": f"stopped by you at {at}"}.get(
            self.stopped_by, f"stopped by {self.stopped_by} at {at}")
        parts = [how, {LatchState.ARMED: "armed", LatchState.TRIPPED: "still tripped",
                       LatchState.UNARMED: "never armed" if not self.armed_s else "not armed"}[self.state]]
        if not self.trips:
            parts.append("no trip")
        else:
            parts.append("; ".join(f"trip at {t:.2f} s: {reason} ({detail})" for t, reason, detail in self.trips))
        if self.rearms_s:
            parts.append("re-armed by you at " + ", ".join(f"{t:.2f} s" for t in self.rearms_s))
        if self.refused:
            parts.append("re-arm refused at " + ", ".join(f"{t:.2f} s ({why})" for t, why in self.refused))
        return ", ".join(parts)
