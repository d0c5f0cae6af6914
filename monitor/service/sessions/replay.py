"""Trace replay: run a recorded trace through the daemon's own loop and core.

The trace plays through the fake drivers on a simulated clock that follows the
trace's own time base, ticking at the loop's rate, so a replay is a run of the
daemon: data that stops arriving is noticed at the same tick as it would be
live. The monitor is armed at the first sample. Which sensors exist comes from
the trace's columns; the mount and walking direction from its metadata.

`replay_file` reads the file as a stream, twice: once to check every line and
learn where it ends (so a broken file is an error before anything runs, as a
broken config is), then again to play it, the rows loaded as the loop's clock
reaches them and dropped once the drivers have handed them over, so memory
does not grow with the length of the trace. `replay` plays a `Trace` already
in memory (the bench's simulated ones).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from drivers.fake import FakeBeltSensor, FakeImu, FakeRangeSensor, FakeRelay
from monitor.config.schema import Config
from monitor.formats.trace_format import Trace, TraceError
from monitor.formats.trace_reader import TraceStream
from monitor.safety.core import SafetyCore
from monitor.safety.direction import Change, initial_direction
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices, LoopClock


@dataclass(frozen=True)
class ReplayResult:
    trace: str
    samples: int
    duration_s: float
    tripped: bool
    trip_t: float | None
    reason: str | None
    detail: str | None
    values: dict[str, float] | None
    direction_start: str | None = None  # the direction assumed at the first sample
    direction_changes: tuple[dict[str, Any], ...] = ()  # each change: t, direction, cue (and a turn's angle)
    ceiling_events: tuple[dict[str, Any], ...] = ()  # each: t, event, ceiling_mps, belt_mps

    def to_json(self) -> str:
        out: dict[str, Any] = {
            "trace": self.trace, "samples": self.samples, "duration_s": round(self.duration_s, 6),
            "tripped": self.tripped, "trip_t": None if self.trip_t is None else round(self.trip_t, 6),
            "reason": self.reason, "detail": self.detail,
        }
        if self.values is not None:
            out["values"] = {k: round(v, 6) if math.isfinite(v) else None for k, v in self.values.items()}
        if self.direction_start is not None:  # after the contract's keys
            out["direction_start"] = self.direction_start
            out["direction_changes"] = list(self.direction_changes)
            out["ceiling_events"] = list(self.ceiling_events)
        return json.dumps(out)


def _readings(t_s: np.ndarray, values: np.ndarray | None) -> list[tuple[float, float]] | None:
    if values is None:
        return None
    has = ~np.isnan(values)
    return list(zip(t_s[has].tolist(), values[has].tolist()))


def _mount(meta: dict[str, Any]) -> list[list[float]] | None:
    value = meta.get("imu_mount")
    return None if value is None else np.array(value, dtype=np.float64).tolist()


def _wire(config: Config, clock: LoopClock, start_s: float, imu: Sequence, belt: Sequence | None,
          ranges: Sequence | None, meta: dict[str, Any]) -> Daemon:
    """The daemon on fake drivers that play these readings, with the trace's metadata."""
    devices = Devices(
        imu=FakeImu(clock.now, imu),
        relay=FakeRelay(clock.now),
        belt=None if belt is None else FakeBeltSensor(clock.now, belt),
        range_sensor=None if ranges is None else FakeRangeSensor(clock.now, ranges),
    )
    rear_edge_m = meta.get("rear_edge_m")
    core = SafetyCore(
        config, start_s=start_s, walking=meta.get("walking", config.session.walking), imu_mount=_mount(meta),
        has_belt=belt is not None, has_range=ranges is not None,
        rear_edge_m=None if rear_edge_m is None else float(rear_edge_m),
    )
    return Daemon(core, devices, clock)


def build_replay(trace: Trace, config: Config, clock: LoopClock | None = None) -> Daemon:
    """The daemon, wired to fake drivers that play this trace on `clock` (by
    default a simulated clock starting at the first sample)."""
    t_s = trace.t_s
    clock = clock or SimulatedClock(float(t_s[0]))
    samples = np.column_stack([t_s, trace.accel_mps2, trace.gyro_radps]).tolist()
    return _wire(config, clock, float(t_s[0]), samples, _readings(t_s, trace.belt_mps),
                 _readings(t_s, trace.range_m), trace.meta)


def _result(daemon: Daemon, path: str, samples: int, duration_s: float, last_t_s: float) -> ReplayResult:
    start = initial_direction(daemon.core.walking).value
    stats = daemon.run(until_s=last_t_s, arm_at_start=True, stop_on_trip=True)
    changes = tuple(_change(c) for c in daemon.core.direction.changes)
    ceiling = tuple({"t": round(e.t_s, 6), "event": e.kind.value, "ceiling_mps": round(e.ceiling_mps, 3),
                     "belt_mps": round(e.belt_mps, 3)} for e in daemon.core.ceiling_log)
    first = stats.first_trip
    if first is None or first.trip is None:
        return ReplayResult(path, samples, duration_s, False, None, None, None, None, start, changes, ceiling)
    problem = first.trip.problems[0]
    return ReplayResult(path, samples, duration_s, True, first.t_s,
                        problem.reason, problem.detail, dict(problem.values), start, changes, ceiling)


def _change(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"t": round(change.t_s, 6), "direction": change.direction.value, "cue": change.cue.value}
    if change.turn_deg is not None:
        out["turn_deg"] = round(change.turn_deg, 1)
    return out


def replay(trace: Trace, config: Config) -> ReplayResult:
    """Replay one trace in memory; stops at its last sample or at the first trip."""
    if trace.samples == 0:
        return ReplayResult(trace.path, 0, 0.0, False, None, None, None, None)
    return _result(build_replay(trace, config), trace.path, trace.samples, trace.duration_s,
                   float(trace.t_s[-1]))


MIN_SAMPLES = 2  # the fewest that have a rate (TRACE_FORMAT.md: 50 to 2000 Hz) to be judged on


def replay_file(path: str | os.PathLike[str], config: Config) -> ReplayResult:
    """Replay one trace file as a stream; TraceError names its first problem."""
    with TraceStream(path) as stream:  # first pass: every line checked, the end found
        for _ in stream.chunks():
            pass
    if stream.samples < MIN_SAMPLES:  # one sample has no rate and no interval: refused, not "no trip"
        raise TraceError(stream.path, stream.header_line + 1,
                         f"only {stream.samples} sample; replay needs at least {MIN_SAMPLES}, at 50 to 2000 Hz "
                         f"(was the recording stopped at once, or cut short?)")
    with TraceStream(path) as playing:
        wanted = playing.wanted
        problems: list[TraceError] = []
        feeds = itertools.tee(playing.chunks(), 1 + sum(c in wanted for c in ("belt_mps", "range_m")))

        def playback(columns: list[int], is_sliced: bool) -> _Playback:
            return _Playback(feeds[len(views)], columns, stream.samples, is_sliced, problems, stream.path)

        views: list[_Playback] = []
        for column in ("t", "belt_mps", "range_m"):
            if column == "t":
                views.append(playback(list(range(7)), True))  # t, ax..gz for the IMU
            elif column in wanted:
                views.append(playback([0, wanted.index(column)], False))
        belt = views[1] if "belt_mps" in wanted else None
        ranges = views[-1] if "range_m" in wanted else None
        clock = SimulatedClock(stream.first_t_s)
        daemon = _wire(config, clock, stream.first_t_s, views[0], belt, ranges, playing.meta)
        result = _result(daemon, stream.path, stream.samples, stream.duration_s, stream.last_t_s)
    if problems:
        raise problems[0]
    return result


class _Playback(Sequence):
    """Some columns of a trace stream's rows, as the list of readings a fake driver plays.

    The rows are loaded chunk by chunk as the driver asks for them and dropped once it
    has passed them: a fake IMU takes its samples as slices (nothing before a slice's
    end is asked for again), a fake belt or range sensor one index at a time (nothing
    before the index it last asked for). A stream that fails now (the file changed
    since it was checked) is recorded in `problems` and plays as if it ended there.
    """

    def __init__(self, chunks: Iterator[np.ndarray], columns: list[int], length: int,
                 is_sliced: bool, problems: list[TraceError], path: str) -> None:
        self._chunks = chunks
        self._columns = columns
        self._length = length
        self._is_sliced = is_sliced
        self._problems = problems
        self._path = path
        self._held: deque[tuple[int, list[list[float]]]] = deque()  # (index of the chunk's first row, its rows)
        self._loaded = 0
        self._first = 0  # the chunk asked for last: the index of its first row, and its rows
        self._rows: list[list[float]] = []

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            start, stop, _ = key.indices(self._length)
            first = self._first
            if first <= start and stop <= first + len(self._rows):  # the usual case: one chunk
                rows = self._rows[start - first:stop - first]
            else:
                rows = [self._row(i) for i in range(start, stop)]
            self._release(stop)
            return rows
        i = key - self._first
        if 0 <= i < len(self._rows):  # the usual case: the chunk asked for last
            row = self._rows[i]
        else:
            row = self._row(key)
        if not self._is_sliced:
            self._release(key)
        return row

    def _row(self, i: int) -> list[float]:
        while i >= self._loaded:
            if not self._load():
                return [math.inf] + [math.nan] * (len(self._columns) - 1)  # never due
        for first, rows in self._held:
            if i < first + len(rows):
                self._first, self._rows = first, rows
                return rows[i - first]
        raise IndexError(f"row {i} was already handed over and dropped")

    def _load(self) -> bool:
        try:
            chunk = next(self._chunks)
        except TraceError as err:
            self._problems.append(err)
            return False
        except StopIteration:
            if not self._problems:
                self._problems.append(TraceError(self._path, None, "the file changed while it was "
                                                 "replayed; replay it again"))
            return False
        self._held.append((self._loaded, chunk[:, self._columns].tolist()))
        self._loaded += len(chunk)
        return True

    def _release(self, low: int) -> None:
        held = self._held
        while held and held[0][0] + len(held[0][1]) <= low:
            held.popleft()
