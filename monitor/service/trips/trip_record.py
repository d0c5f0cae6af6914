"""Trip records: each trip's explanation and the sensor data around it, on disk, in two parts.

At the tick of a trip the recorder copies the core's recent data (the last
`record.before_s` seconds of IMU samples, belt and range readings) and offers a
`TripStart` at once; `record.after_s` later it offers a `TripAfter` with the data
since. Whoever handles them (a worker process in the service) writes, for the
start, `trip-<time>.json` (the reason, every problem's values and limits) and
`trip-<time>.csv.gz` (a trace `treadguard replay` reads: its header and the rows
before the trip, one complete gzip member), and for the after part appends the
rows after the trip as a second gzip member, which every gzip reader joins to
the first. A record cut short by a kill is still a readable trace: the first
member was complete and synced before anything else.

Files are made with O_EXCL and O_NOFOLLOW in a folder that must be treadguard's
own (owned by this user, not writable by group or others, not a symbolic
link), so a link planted at a record's name, or a folder swapped for one, is
refused with a message, never followed.
"""

from __future__ import annotations

import errno
import gzip
import json
import math
import os
import stat
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from monitor.formats.trace_format import Trace
from monitor.formats.trace_writer import _format_trace
from monitor.safety.core import SafetyCore
from monitor.safety.direction import calibrated_facing
from monitor.safety.verdict import Trip, Verdict

Readings = list[tuple[float, float]]
# Shared with the home bridge by design: the folder is setgid (its files take its group, the daemon's
# group, of which the bridge's user is a member) and group-readable; records are 0640. Set with
# fchmod, not through the umask: the service runs with UMask=0077, which made them 0600 in a 0700
# folder that the bridge could never read. Nobody but treadguard's user may write.
FOLDER_MODE = 0o2750
SHARED_MODE = 0o750  # the same without setgid, where the service may not set it (RestrictSUIDSGID=yes)
FILE_MODE = 0o640


@dataclass(frozen=True)
class TripStart:
    """The part of a record known at the tick of the trip."""

    trip: Trip
    wall_time_s: float  # seconds since the epoch when the trip was decided: the record's name
    walking: str
    imu_mount: list[list[float]] | None  # only when the mount was known, not guessed
    samples: list[tuple[float, ...]]  # (t_s, ax, ay, az, gx, gy, gz), sensor frame
    belt: Readings | None  # (t_s, belt_mps), None when there is no belt sensor
    ranges: Readings | None  # (t_s, range_m), None when there is no range sensor
    rear_edge_m: float | None
    after_s: float
    direction: str = ""  # the direction the body showed at the trip (forward, backward, unknown); walking is
    # the declared one, the trace's calibration


@dataclass(frozen=True)
class TripAfter:
    """The data from after the trip, to append to the record named by wall_time_s."""

    wall_time_s: float
    samples: list[tuple[float, ...]]
    belt: Readings | None
    ranges: Readings | None


class TripRecorder:
    """A Daemon tick hook that offers a record's start at the trip and its rest after_s later."""

    def __init__(self, core: SafetyCore, offer: Callable[[object], bool], *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.after_s = core.config.record.after_s
        self.offer = offer
        self.wall_clock = wall_clock
        mount = core.config.imu.mount if core.is_mount_known else None
        self._mount = [list(map(float, row)) for row in mount] if mount else None
        self._pending: TripStart | None = None

    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        if verdict.is_new_trip and verdict.trip is not None:
            self._flush(core)  # a new trip before the last one's after_s: keep what there is
            start = TripStart(
                verdict.trip, self.wall_clock(), calibrated_facing(core.walking), self._mount, list(core.history),
                list(core.belt_history) if core.has_belt else None,
                list(core.range_history) if core.has_range else None,
                core.range_drift.rear_edge_m if core.has_range else None, self.after_s,
                core.direction.state.value)
            self.offer(start)
            self._pending = start
        if self._pending is not None and verdict.t_s >= self._pending.trip.t_s + self.after_s:
            self._flush(core)

    def finish(self, core: SafetyCore) -> None:
        """The daemon is stopping: hand on the after part of a record still waiting."""
        self._flush(core)

    def _flush(self, core: SafetyCore) -> None:
        start = self._pending
        if start is None:
            return
        self._pending = None
        last_s = start.samples[-1][0] if start.samples else start.trip.t_s
        self.offer(TripAfter(
            start.wall_time_s, [s for s in core.history if s[0] > last_s],
            [r for r in core.belt_history if r[0] > last_s] if start.belt is not None else None,
            [r for r in core.range_history if r[0] > last_s] if start.ranges is not None else None))


# -- the files -------------------------------------------------------------------------------------

class RecordRefused(Exception):
    """The folder or a file name is not safe to write to; the message says what to do."""


def record_name(wall_time_s: float) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(wall_time_s))
    return f"trip-{stamp}-{int(wall_time_s * 1000) % 1000:03d}"


def open_folder(folder: str) -> int:
    """The record folder as a directory fd: made if missing (FOLDER_MODE), else it must be ours,
    not writable by others, and not a symbolic link; ours and readable by our group either way.
    Raises RecordRefused or OSError."""
    if not os.path.isabs(folder):
        raise RecordRefused("it is not an absolute path; set record.trip_dir to one")
    parent = os.path.dirname(folder.rstrip("/"))
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, 0o750, exist_ok=True)  # e.g. a desk user's ~/.local/state/treadguard
    try:
        os.mkdir(folder, 0o750)
    except FileExistsError:
        pass
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP or os.path.islink(folder):
            raise RecordRefused("it is a symbolic link; treadguard writes records only into a real folder of "
                                "its own: remove the link, or point record.trip_dir at the folder itself") from None
        if err.errno == errno.ENOTDIR:
            raise RecordRefused("it is not a folder") from None
        raise
    st = os.fstat(fd)
    problem = None
    if st.st_uid != os.geteuid():
        problem = (f"it belongs to uid {st.st_uid}, not to treadguard's uid {os.geteuid()}: "
                   f"`chown` it to the service's user")
    elif st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = (f"it is writable by others (mode {stat.S_IMODE(st.st_mode):o}), so a record could be "
                   f"swapped or planted: `chmod 2750` it")
    if problem:
        os.close(fd)
        raise RecordRefused(problem)
    if stat.S_IMODE(st.st_mode) not in (FOLDER_MODE, SHARED_MODE):
        for mode in (FOLDER_MODE, SHARED_MODE):  # made under a strict umask, or by an older treadguard
            try:
                os.fchmod(fd, mode)
                break
            except OSError:  # RestrictSUIDSGID=yes refuses the setgid bit: the service's primary group
                continue     # is the shared one, so its files take that group all the same
    return fd


def _create(folder_fd: int, folder: str, name: str) -> int:
    """A new file for writing: never an existing name, never through a symbolic link."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE,
                     dir_fd=folder_fd)
    except FileExistsError:
        try:
            is_link = stat.S_ISLNK(os.lstat(name, dir_fd=folder_fd).st_mode)
        except OSError:
            is_link = False
        what = "a symbolic link" if is_link else "a file"
        raise RecordRefused(f"{os.path.join(folder, name)} already exists as {what}; nothing is written "
                            f"through or over it: remove it and check who else writes into {folder}") from None
    os.fchmod(fd, FILE_MODE)  # whatever the umask: readable by the folder's group (the bridge)
    return fd


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _rows_with_readings(samples: Sequence[tuple[float, ...]], belt: Readings | None,
                        ranges: Readings | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The IMU rows, and each optional column with every reading on the first row at or after it
    (empty cells elsewhere: "no new reading")."""
    rows = np.array(samples, dtype=float).reshape(-1, 7)
    t_s = rows[:, 0]

    def column(readings: Readings | None) -> np.ndarray | None:
        if readings is None:
            return None
        out = np.full(len(rows), np.nan)
        for reading_t_s, value in readings:
            at = int(np.searchsorted(t_s, reading_t_s, side="left"))
            if at < len(rows):
                out[at] = value
        return out

    return rows, column(belt), column(ranges)


def _trace_text(name: str, meta: dict, samples, belt, ranges) -> str:
    rows, belt_col, range_col = _rows_with_readings(samples, belt, ranges)
    trace = Trace(name, meta, rows[:, 0], rows[:, 1:4], rows[:, 4:7], np.ones(len(rows), bool), belt_col, range_col)
    return _format_trace(name, trace)


def explanation_of(start: TripStart, data_name: str) -> dict:
    trip = start.trip
    finite = (lambda d: {k: (v if math.isfinite(v) else None) for k, v in d.items()})
    return {
        "tripped_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start.wall_time_s)),
        "t_s": trip.t_s, "reason": trip.reason, "detail": trip.detail, "describe": trip.describe(),
        "walking": start.walking,
        "direction": start.direction or start.walking,
        "problems": [{"reason": p.reason, "detail": p.detail, "t_s": p.t_s,
                      "values": finite(p.values), "limits": finite(p.limits)} for p in trip.problems],
        "data": data_name,
        "data_after_trip_s": start.after_s,
    }


class RecordFolder:
    """Writes records into one folder, start first, after part appended. Raises RecordRefused
    or OSError with the reason; the handler below says it."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._open: dict[float, tuple[str, dict]] = {}  # records begun: wall time -> (data file, its metadata)

    def begin(self, start: TripStart) -> tuple[str, str]:
        base = record_name(start.wall_time_s)
        fd = open_folder(self.folder)
        try:
            meta: dict = {"source": f"treadguard trip record: {start.trip.describe()}", "walking": start.walking}
            if start.imu_mount is not None:
                meta["imu_mount"] = start.imu_mount
            if start.ranges is not None:
                meta["rear_edge_m"] = start.rear_edge_m
            data_name = base + ".csv.gz"
            text = _trace_text(data_name, meta, start.samples, start.belt, start.ranges)
            # The trace first: the explanation names it, so it must exist when the explanation does.
            data_fd = _create(fd, self.folder, data_name)
            try:
                _write_all(data_fd, gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))
            finally:
                os.close(data_fd)
            json_fd = _create(fd, self.folder, base + ".json")
            try:
                payload = json.dumps(explanation_of(start, data_name), indent=2) + "\n"
                _write_all(json_fd, payload.encode("utf-8"))
            finally:
                os.close(json_fd)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._open[start.wall_time_s] = (data_name, {"rear_edge_m": start.rear_edge_m} if start.ranges is not None else {})
        return os.path.join(self.folder, base + ".json"), os.path.join(self.folder, data_name)

    def append(self, after: TripAfter) -> str | None:
        """Append the after part; None when its start was never written (nothing to append to)."""
        known = self._open.pop(after.wall_time_s, None)
        if known is None or not after.samples:
            return None
        data_name, meta = known
        text = _trace_text(data_name, meta, after.samples, after.belt, after.ranges)
        rows = text.split("\n", 2 + len(meta))[-1]  # without the magic line, the metadata and the header
        fd = open_folder(self.folder)
        try:
            data_fd = os.open(data_name, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError as err:
            os.close(fd)
            if err.errno == errno.ELOOP:
                raise RecordRefused(f"{os.path.join(self.folder, data_name)} was replaced by a symbolic link; "
                                    f"the data after the trip is not written through it") from None
            raise
        try:
            # One write of one complete gzip member: a kill leaves the record as it was or whole.
            _write_all(data_fd, gzip.compress(rows.encode("utf-8"), compresslevel=6, mtime=0))
        finally:
            os.close(data_fd)
            os.close(fd)
        return os.path.join(self.folder, data_name)


def trip_record_writer(folder: str, out: Callable[[str], None]) -> Callable[[object], None]:
    """A side-output handler for TripStart and TripAfter items: writes them and says where, or
    says once per record why it could not be written and what to check."""
    records = RecordFolder(folder)

    def write(item: object) -> None:
        try:
            if isinstance(item, TripStart):
                explanation, data = records.begin(item)
                out(f"treadguard: trip recorded: {explanation} and {data} "
                    f"(the {item.after_s:g} s after the trip follow in {os.path.basename(data)})")
            elif isinstance(item, TripAfter):
                records.append(item)
        except (RecordRefused, OSError, ValueError) as err:
            what = record_part(item)
            reason = str(err) if isinstance(err, RecordRefused) else f"{type(err).__name__}: {err}"
            out(f"treadguard: could not write {what} into {folder}: {reason}; check that the folder exists, "
                f"belongs to treadguard, is writable and has free space (the trip itself is in the journal)")
    return write


def record_part(item: object) -> str:
    """Which part of which record an item is, in words."""
    if isinstance(item, TripAfter):
        return f"the data after the trip of record {record_name(item.wall_time_s)}"
    if isinstance(item, TripStart):
        return f"the record of the trip at {item.trip.t_s:.3f} s ({item.trip.reason}, {item.trip.detail})"
    return f"a {type(item).__name__}"


def stderr_writer(folder: str) -> Callable[[object], None]:
    """The service's handler (importable by name, for the worker process): records into
    `folder`, what became of each said on stderr, which is the journal."""
    return trip_record_writer(folder, _say_on_stderr)


def _say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
