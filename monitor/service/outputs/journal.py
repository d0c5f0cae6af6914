"""Every trip in the journal: one line on stderr the moment it happens, before any file.

The loop offers each trip record's parts here (never waiting: a bounded queue
that drops and counts). A thread writes the trip's line (reason, detail, every
problem's values and the limits they broke) straight to file descriptor 2 with
os.write, which under systemd is the journal, and only then hands the part on
to the record writer, so the journal always hears of a trip before the disk
does, and a slow or full disk can never hold the line back.
"""

from __future__ import annotations

import os
from typing import Callable

from monitor.safety.verdict import Trip
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


class TripJournal:
    """Says each trip on stderr from its own thread, then forwards the record's parts."""

    def __init__(self, forward: Callable[[object], bool] | None = None, *,
                 write: Callable[[bytes], None] = write_stderr, maxsize: int = 16, threaded: bool = True) -> None:
        self.forward = forward
        self.write = write
        self.lines = 0
        self.write_failures = 0
        self.forward_dropped = 0
        self._sideline = Sideline(self._handle, maxsize=maxsize, name="journal", threaded=threaded)

    @property
    def dropped(self) -> int:
        return self._sideline.dropped

    def offer(self, item: object) -> bool:
        """From the loop: never waits; False (and counted) when the queue is full."""
        return self._sideline.offer(item)

    def _handle(self, item: object) -> None:
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
