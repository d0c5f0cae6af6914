"""Each change of the walker's direction in the journal, one line, said beside the loop.

The loop's tick hook only notices a new change (monitor.safety.direction keeps
them); a Sideline's thread writes the line, so the loop never waits on stderr.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from monitor.service.outputs.sideline import Sideline

FACING = {"forward": "the console", "backward": "the rear", "unknown": "not known yet"}


def _say(line: str) -> None:
    os.write(2, (line + "\n").encode())


def change_line(change: Any) -> str:
    how = f"after a turn of {abs(change.turn_deg):.0f} deg" if change.turn_deg is not None else "from the gait"
    limits = "forward" if change.direction.value == "forward" else "backward"
    return (f"treadguard: walker facing {FACING[change.direction.value]} ({how}, at t = {change.t_s:.1f} s); "
            f"the {limits} limits apply")


class DirectionJournal:
    """on_tick: a line in the journal for each direction change."""

    def __init__(self, *, say: Callable[[str], None] = _say, threaded: bool = True) -> None:
        self._last: Any = None
        self.lines = 0
        self._worker = Sideline(say, maxsize=16, name="direction", threaded=threaded)

    def on_tick(self, verdict: Any, core: Any) -> None:
        changes = core.direction.changes
        if not changes or changes[-1] is self._last:
            return
        self._last = changes[-1]
        self.lines += 1
        self._worker.offer(change_line(self._last))

    def drain(self) -> None:
        self._worker.drain()

    def close(self) -> None:
        self._worker.close()
