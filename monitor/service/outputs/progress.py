"""Keeps the backward ceiling on disk: read at start, written beside the loop on every change.

The core takes the starting ceiling in and reports its changes out
(monitor.safety.ceiling); this keeper turns them into the progress file
(monitor.formats.progress_file), from a thread, never in the loop. A file that
cannot be written (a read-only or full disk) is said once on stderr (the
journal) and the session goes on: the core holds the ceiling in memory, and the
next start begins from the last ceiling that reached the disk, never a higher one.
It also notes each day's backward walking, so a walker back after a long break
starts a step lower.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Any, Callable

from monitor.config.schema import Config
from monitor.formats.progress_file import Loaded, Progress, load_progress, save_progress
from monitor.safety.ceiling import CeilingEventKind
from monitor.safety.direction import Direction
from monitor.service.outputs.sideline import Sideline

KEPT_EVENTS = (CeilingEventKind.ROSE, CeilingEventKind.LOWERED, CeilingEventKind.BREAK)
SESSION_NOTE_S = 3600.0  # backward walking is noted in the file at most this often
MOVING_MPS = 0.1


def load(config: Config, *, now: datetime | None = None) -> Loaded:
    c = config.ceiling
    return load_progress(c.progress_file, start_mps=c.start_mps, min_mps=c.min_mps,
                         max_mps=config.belt.max_backward_mps, step_mps=c.step_mps, break_days=c.break_days,
                         now=now)


def _say(line: str) -> None:
    os.write(2, (line + "\n").encode())


class ProgressKeeper:
    """on_tick: the core's ceiling changes and backward walking, written beside the loop."""

    def __init__(self, config: Config, progress: Progress, *, say: Callable[[str], None] = _say,
                 wall_clock: Callable[[], float] = time.time, threaded: bool = True) -> None:
        self.path = config.ceiling.progress_file
        self.break_s = config.ceiling.break_days * 86400.0
        self.progress = progress
        self.say = say
        self.wall_clock = wall_clock
        self.writes = 0
        self.failures = 0
        self._has_said_failure = False
        last = progress.last_session
        self._last_backward_wall: float | None = (
            datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            if isinstance(last, str) and len(last) == 20 else None)
        self._sideline = Sideline(self._write, maxsize=8, name="progress") if threaded else None

    def on_tick(self, verdict: Any, core: Any) -> None:
        changed = False
        now_wall = self.wall_clock()
        stamp = datetime.fromtimestamp(now_wall, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if core.direction.state is Direction.BACKWARD and core.overspeed.speed_mps > MOVING_MPS:
            last = self._last_backward_wall
            if last is not None and now_wall - last >= self.break_s:
                core.ceiling.after_break(verdict.t_s, core.overspeed.speed_mps)  # taken at the next tick
            if last is None or now_wall - last >= SESSION_NOTE_S:
                self._last_backward_wall = now_wall
                self.progress.last_session = stamp
                changed = True
        for event in core.new_ceiling_events:
            if event.kind in KEPT_EVENTS:
                self.progress.ceiling_mps = event.ceiling_mps
                self.progress.history.append({"at": stamp, "event": event.kind.value,
                                              "ceiling_mps": round(event.ceiling_mps, 3)})
                changed = True
        if changed:
            self.progress.updated = stamp
            snapshot = Progress(self.progress.ceiling_mps, self.progress.updated, self.progress.last_session,
                                list(self.progress.history))
            if self._sideline is None:
                self._write(snapshot)
            else:
                self._sideline.offer(snapshot)

    def _write(self, progress: Progress) -> None:
        try:
            save_progress(self.path, progress)
        except OSError as err:
            self.failures += 1
            if not self._has_said_failure:
                self._has_said_failure = True
                self.say(f"treadguard: {self.path}: the backward ceiling could not be saved "
                         f"({err.strerror or err}); this session goes on at {progress.ceiling_mps:g} m/s, and the "
                         f"next one starts from the last ceiling saved. Check the disk (read-only or full?) "
                         f"and ceiling.progress_file")
            return
        self.writes += 1

    def close(self) -> None:
        if self._sideline is not None:
            self._sideline.close()
