"""Every trip in the journal: one line on stderr the moment it happens, before any file.

The loop offers each trip record's parts here (never waiting: a bounded queue
that drops and counts). A thread writes the trip's line (reason, detail, every
problem's values and the limits they broke) straight to file descriptor 2 with
os.write, which under systemd is the journal, and only then hands the part on
to the record writer, so the journal always hears of a trip before the disk
does, and a slow or full disk can never hold the line back.

A re-arm refused while tripped is said too, as what it is ("re-arm refused"): the
core explains the latch anew with what still fails, which is not a new trip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from monitor.safety.latch import LatchState
from monitor.safety.verdict import Trip, Verdict
from monitor.service.outputs.sideline import Sideline
from monitor.service.trips.trip_record import TripStart


def trip_line(trip: Trip) -> str:
    """One line for the journal: what tripped, with the values and their limits."""
    problems = "; ".join(p.describe() for p in trip.problems)
    return f"treadguard: TRIPPED {problems} at t = {trip.t_s:.3f} s; the relay is released until a person re-arms it"


def write_stderr(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(2, view):]


@dataclass(frozen=True)
class RearmRefused:
    """A re-arm refused while tripped: the checks that still fail."""

    refusal: Trip


def refusal_line(refusal: Trip) -> str:
    problems = "; ".join(p.describe() for p in refusal.problems)
    return (f"treadguard: re-arm refused at t = {refusal.t_s:.3f} s: {problems}; the trip holds and the relay "
            f"stays released")


class TripJournal:
    """Says each trip on stderr from its own thread, then forwards the record's parts."""

    def __init__(self, forward: Callable[[object], bool] | None = None, *,
                 write: Callable[[bytes], None] = write_stderr, maxsize: int = 16, threaded: bool = True) -> None:
        self.forward = forward
        self.write = write
        self.lines = 0
        self.write_failures = 0
        self.forward_dropped = 0
        self._seen_trip: Trip | None = None
        self._sideline = Sideline(self._handle, maxsize=maxsize, name="journal", threaded=threaded)

    @property
    def dropped(self) -> int:
        return self._sideline.dropped

    def offer(self, item: object) -> bool:
        """From the loop: never waits; False (and counted) when the queue is full."""
        return self._sideline.offer(item)

    def on_tick(self, verdict: Verdict, core: object = None) -> None:
        """A tick hook for the refusals: the core's trip changes while tripped, and no new trip."""
        trip, self._seen_trip = self._seen_trip, verdict.trip
        if (verdict.state is LatchState.TRIPPED and verdict.trip is not trip and trip is not None
                and not verdict.is_new_trip and verdict.trip is not None):
            self.offer(RearmRefused(verdict.trip))

    def _handle(self, item: object) -> None:
        if isinstance(item, RearmRefused):
            try:
                self.write((refusal_line(item.refusal) + "\n").encode("utf-8", "replace"))
                self.lines += 1
            except OSError:
                self.write_failures += 1
            return
        if isinstance(item, TripStart):
            try:
                self.write((trip_line(item.trip) + "\n").encode("utf-8", "replace"))
                self.lines += 1
            except OSError:  # stderr closed or broken: the record still gets written
                self.write_failures += 1
        if self.forward is not None and not self.forward(item):
            self.forward_dropped += 1

    def drain(self) -> None:
        self._sideline.drain()

    def close(self, timeout_s: float = 2.0) -> None:
        self._sideline.close(timeout_s)
