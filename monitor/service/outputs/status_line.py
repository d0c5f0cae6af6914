"""The live status line: what the monitor sees and decides, for a person watching.

The loop's hook only formats a short string a few times a second and offers it
to a Sideline; printing happens in the Sideline's thread. On a terminal the
line is fitted to the terminal's width (one column short of it, so it never
wraps and each redraw overwrites the last): the least useful fields go first,
and the trip's reason is the last thing ever cut.
"""

from __future__ import annotations

import os
from typing import Callable, TextIO

from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Trip, Verdict

TTY_INTERVAL_S = 0.1  # redraw the line ten times a second on a terminal
LOG_INTERVAL_S = 1.0  # one line a second when the output is a file or a pipe
DEFAULT_WIDTH = 80
ERASE_TO_END = "\x1b[K"  # ANSI "erase in line": every terminal but a dumb one knows it

# How soon a field goes when the line is too long: higher goes first; KEEP never.
KEEP = 0
Field = tuple[str, int]


def fields(verdict: Verdict, core: SafetyCore, t0_s: float, note: str = "", trip: Trip | None = None) -> list[Field]:
    """The line's fields; `trip` is the trip that latched (a refused re-arm's explanation is not one)."""
    trip = trip or verdict.trip
    out: list[Field] = [(f"{verdict.t_s - t0_s:7.2f} s", 3), (f"{verdict.state.value.upper():8s}", 1)]
    if core.has_belt:
        out.append((f"belt {core.overspeed.speed_mps:4.2f} m/s", 4))
    if core.has_range and core.range_drift.margin_m is not None:
        out.append((f"rear margin {core.range_drift.margin_m:4.2f} m", 5))
    out.append((f"imu age {max(0.0, verdict.t_s - core.imu_health.last_good_t_s) * 1000:3.0f} ms", 6))
    if note:
        out.append((note, 2))
    if verdict.state is LatchState.TRIPPED and trip is not None:
        out.append((f"tripped: {trip.reason} ({trip.detail})", KEEP))
    elif verdict.problems:
        out.append(("problem: " + verdict.problems[0].detail, 2))
    return out


def fit(parts: list[Field], width: int | None) -> str:
    """The fields joined, dropping the most expendable first until the line fits in width;
    a trip alone still too long loses the word "tripped:", then the end of the check's name."""
    parts = [(text.strip() if width is not None else text, rank) for text, rank in parts]
    line = "  ".join(text for text, _ in parts)
    if width is None:
        return line
    while len(line) > width and any(rank != KEEP for _, rank in parts):
        worst = max(range(len(parts)), key=lambda i: (parts[i][1], i))
        del parts[worst]
        line = "  ".join(text for text, _ in parts)
    if len(line) <= width:
        return line
    # Only the trip is left and it is still too long: its reason word first, the check's name cut.
    line = line.removeprefix("tripped: ")
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def describe(verdict: Verdict, core: SafetyCore, t0_s: float) -> str:
    return fit(fields(verdict, core, t0_s), None)


def terminal_width(out: TextIO) -> int:
    try:
        return os.get_terminal_size(out.fileno()).columns or DEFAULT_WIDTH
    except (AttributeError, OSError, ValueError):
        return DEFAULT_WIDTH


class StatusLine:
    def __init__(self, out: TextIO, *, t0_s: float = 0.0, width: int | None = None) -> None:
        self.out = out
        self.t0_s = t0_s
        self.is_tty = out.isatty()
        self._interval_s = TTY_INTERVAL_S if self.is_tty else LOG_INTERVAL_S
        self._next_s = -float("inf")
        # The usable width: one column short of the terminal's, so the cursor never wraps.
        self.width = (width if width is not None else terminal_width(out)) - 1 if self.is_tty else None
        self._note = ""
        self._note_until_s = -float("inf")
        self._is_mid_line = False  # a redrawn line is showing, with no newline after it
        self._is_note_new = False
        self._latched: Trip | None = None  # the trip that latched, while tripped
        self.can_erase = os.environ.get("TERM", "") != "dumb"

    def announce(self, text: str, now_s: float, for_s: float = 3.0) -> None:
        """Show text in the line for a few seconds (e.g. "re-armed by you"); the line that
        first shows it is drawn at once and stays on screen, as a trip's does."""
        self._note, self._note_until_s = text, now_s + for_s
        self._is_note_new = True

    def line(self, verdict: Verdict, core: SafetyCore) -> str:
        note = self._note if verdict.t_s < self._note_until_s else ""
        return fit(fields(verdict, core, self.t0_s, note, self._latched), self.width)

    def _follow_latch(self, verdict: Verdict) -> None:
        """Keep the trip that latched: a refused re-arm makes the core explain the latch anew (what
        still fails), which is said as "re-arm refused", never shown as a new trip."""
        if verdict.state is not LatchState.TRIPPED:
            self._latched = None
        elif verdict.is_new_trip or self._latched is None:
            self._latched = verdict.trip

    def tick_hook(self, offer: Callable[[str], bool]) -> Callable[[Verdict, SafetyCore], None]:
        """An on_tick for the Daemon: a line every interval, and at once on a trip."""
        def on_tick(verdict: Verdict, core: SafetyCore) -> None:
            self._follow_latch(verdict)
            is_kept = verdict.is_new_trip or self._is_note_new
            if verdict.t_s >= self._next_s or is_kept:
                self._next_s = verdict.t_s + self._interval_s
                self._is_note_new = False
                offer(self.line(verdict, core) + ("\n" if is_kept else ""))
        return on_tick

    def handle(self, line: str) -> None:
        if self.is_tty:
            ends = line.endswith("\n")
            text = line.rstrip("\n")
            width = self.width or DEFAULT_WIDTH - 1
            # Erase the rest of the old line (ANSI EL) rather than pad it with spaces: the cursor
            # stays after the text, so a ^C the terminal echoes fits on the line and never wraps.
            tail = ERASE_TO_END if self.can_erase else " " * (width - len(text[:width]))
            self.out.write("\r" + text[:width] + tail + ("\n" if ends else ""))
            self._is_mid_line = not ends
        else:
            self.out.write(line.rstrip("\n") + "\n")
        self.out.flush()

    def end(self) -> None:
        """The session is over: leave the cursor at the start of a fresh line."""
        if self.is_tty and self._is_mid_line:
            self.out.write("\n")
            self.out.flush()
            self._is_mid_line = False
