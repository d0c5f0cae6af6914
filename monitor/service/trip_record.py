"""Trip records: each trip's explanation and the IMU data around it, on disk.

At the tick of a trip the recorder copies the core's recent samples (the last
`record.before_s` seconds), keeps the tick's problems, and `record.after_s`
later adds the samples since. The record is then handed to a Sideline, whose
thread writes `trip-<time>.json` (the reason, the check, the values) and
`trip-<time>.csv.gz` (a trace that `treadguard replay` reads) into
`record.trip_dir`. The loop only copies a few hundred samples once per trip;
a slow or full disk costs the record, never a tick.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from monitor.formats.atomic import replace_file
from monitor.formats.trace_format import Trace
from monitor.formats.trace_writer import write_trace
from monitor.safety.core import SafetyCore
from monitor.safety.verdict import Trip, Verdict


@dataclass(frozen=True)
class TripRecord:
    trip: Trip
    wall_time_s: float  # seconds since the epoch when the trip was decided, for the file name
    walking: str
    imu_mount: list[list[float]] | None  # only when the mount was known, not guessed
    samples: list[tuple[float, ...]]  # (t_s, ax, ay, az, gx, gy, gz), sensor frame


class TripRecorder:
    """A Daemon tick hook that gathers a record around each trip and offers it on."""

    def __init__(self, core: SafetyCore, offer: Callable[[TripRecord], bool], *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.after_s = core.config.record.after_s
        self.offer = offer
        self.wall_clock = wall_clock
        mount = core.config.imu.mount if core.is_mount_known else None
        self._mount = [list(map(float, row)) for row in mount] if mount else None
        self._pending: tuple[Trip, float, list[tuple[float, ...]]] | None = None

    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        if verdict.is_new_trip and verdict.trip is not None:
            self._flush(core)  # a new trip before the last one's after_s: keep what there is
            self._pending = (verdict.trip, self.wall_clock(), list(core.history))
        if self._pending is not None and verdict.t_s >= self._pending[0].t_s + self.after_s:
            self._flush(core)

    def finish(self, core: SafetyCore) -> None:
        """The daemon is stopping: hand on a record still waiting for its after_s."""
        self._flush(core)

    def _flush(self, core: SafetyCore) -> None:
        if self._pending is None:
            return
        trip, wall_s, before = self._pending
        self._pending = None
        after = [s for s in core.history if s[0] > trip.t_s]
        self.offer(TripRecord(trip, wall_s, core.walking, self._mount, before + after))


def write_trip_record(record: TripRecord, folder: str) -> tuple[str, str]:
    """Write the explanation (JSON) and the data (trace); returns both paths. Raises
    OSError or TraceError, which the Sideline reports."""
    os.makedirs(folder, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(record.wall_time_s))
    stamp += f"-{int(record.wall_time_s * 1000) % 1000:03d}"
    base = os.path.join(folder, f"trip-{stamp}")
    trip = record.trip
    explanation = {
        "tripped_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.wall_time_s)),
        "t_s": trip.t_s, "reason": trip.reason, "detail": trip.detail, "describe": trip.describe(),
        "walking": record.walking,
        "problems": [{"reason": p.reason, "detail": p.detail, "t_s": p.t_s,
                      "values": {k: (v if math.isfinite(v) else None) for k, v in p.values.items()}}
                     for p in trip.problems],
        "data": os.path.basename(base) + ".csv.gz",
    }
    rows = np.array(record.samples, dtype=float).reshape(-1, 7)
    meta: dict = {"source": f"treadguard trip record: {trip.describe()}", "walking": record.walking}
    if record.imu_mount is not None:
        meta["imu_mount"] = record.imu_mount
    write_trace(base + ".csv.gz", Trace(base + ".csv.gz", meta, rows[:, 0], rows[:, 1:4], rows[:, 4:7],
                                        np.ones(len(rows), bool)))
    replace_file(base + ".json", (json.dumps(explanation, indent=2) + "\n").encode("utf-8"))
    return base + ".json", base + ".csv.gz"


def trip_record_writer(folder: str, out: Callable[[str], None]) -> Callable[[TripRecord], None]:
    """A Sideline handler: write each record and say where, or say why it could not be."""
    def write(record: TripRecord) -> None:
        try:
            explanation, data = write_trip_record(record, folder)
        except Exception as err:  # the trip was handled; only its record is lost
            out(f"treadguard: could not write the record of the trip at {record.trip.t_s:.3f} s into "
                f"{folder} ({err}); check that it exists, is writable and has free space")
            return
        out(f"treadguard: trip recorded: {explanation} and {data}")
    return write


def stderr_writer(folder: str) -> Callable[[TripRecord], None]:
    """The service's handler (importable by name, for the worker process): records into
    `folder`, what became of each said on stderr, which is the journal."""
    return trip_record_writer(folder, _say_on_stderr)


def _say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
