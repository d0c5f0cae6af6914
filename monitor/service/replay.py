"""Trace replay: run a recorded trace through the daemon's own loop and core.

The trace plays through the fake drivers on a simulated clock that follows the
trace's own time base, ticking at the loop's rate, so a replay is a run of the
daemon: data that stops arriving is noticed at the same tick as it would be
live. The monitor is armed at the first sample. Which sensors exist comes from
the trace's columns; the mount and walking direction from its metadata.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivers.fake import FakeBeltSensor, FakeImu, FakeRangeSensor, FakeRelay
from monitor.config.schema import Config
from monitor.formats.trace_format import Trace
from monitor.safety.core import SafetyCore
from monitor.service.clock import SimulatedClock
from monitor.service.daemon import Daemon, Devices, LoopClock


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

    def to_json(self) -> str:
        out: dict[str, Any] = {
            "trace": self.trace, "samples": self.samples, "duration_s": round(self.duration_s, 6),
            "tripped": self.tripped, "trip_t": None if self.trip_t is None else round(self.trip_t, 6),
            "reason": self.reason, "detail": self.detail,
        }
        if self.values is not None:
            out["values"] = {k: round(v, 6) if math.isfinite(v) else None for k, v in self.values.items()}
        return json.dumps(out)


def _readings(t_s: np.ndarray, values: np.ndarray | None) -> list[tuple[float, float]] | None:
    if values is None:
        return None
    has = ~np.isnan(values)
    return list(zip(t_s[has].tolist(), values[has].tolist()))


def build_replay(trace: Trace, config: Config, clock: LoopClock | None = None) -> Daemon:
    """The daemon, wired to fake drivers that play this trace on `clock` (by
    default a simulated clock starting at the first sample)."""
    t_s = trace.t_s
    clock = clock or SimulatedClock(float(t_s[0]))
    samples = np.column_stack([t_s, trace.accel_mps2, trace.gyro_radps]).tolist()
    belt = _readings(t_s, trace.belt_mps)
    ranges = _readings(t_s, trace.range_m)
    devices = Devices(
        imu=FakeImu(clock.now, samples),
        relay=FakeRelay(clock.now),
        belt=None if belt is None else FakeBeltSensor(clock.now, belt),
        range_sensor=None if ranges is None else FakeRangeSensor(clock.now, ranges),
    )
    core = SafetyCore(
        config, start_s=float(t_s[0]), walking=trace.walking,
        imu_mount=None if trace.imu_mount is None else trace.imu_mount.tolist(),
        has_belt=belt is not None, has_range=ranges is not None, rear_edge_m=trace.rear_edge_m,
    )
    return Daemon(core, devices, clock)


def replay(trace: Trace, config: Config) -> ReplayResult:
    """Replay one trace; stops at its last sample or at the first trip."""
    if trace.samples == 0:
        return ReplayResult(trace.path, 0, 0.0, False, None, None, None, None)
    daemon = build_replay(trace, config)
    stats = daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True, stop_on_trip=True)
    first = stats.first_trip
    if first is None or first.trip is None:
        return ReplayResult(trace.path, trace.samples, trace.duration_s, False, None, None, None, None)
    problem = first.trip.problems[0]
    return ReplayResult(trace.path, trace.samples, trace.duration_s, True, first.t_s,
                        problem.reason, problem.detail, dict(problem.values))
