"""`treadguard record FILE`: record the live sensors to a trace file.

The relay is in series with the treadmill's safety key, so the belt runs only
while the relay is energized, and only the daemon may energize it. So a
recording *is* a run of the daemon (`treadguard run`, same devices, same core,
same SIGUSR1 reset), with taps on the devices that copy every IMU batch and
every belt and range reading the loop took. What is recorded is exactly what the
core saw: samples in the sensor frame with the calibrated offsets removed (the
drivers remove them), a failed IMU read as a row of empty cells at the time of
the read (a replay counts it as the daemon did), and each belt or range reading
on the newest IMU row at or before its time (a replay then hands it to the core
in the same tick as the daemon did). FIFO overflows and chip resets have no
column in the trace format: they show as gaps in t.

Recording stops on Ctrl-C or SIGTERM (the relay released at once, as in `run`),
or after --seconds, and then writes what it has with `write_trace`, which writes
a temporary file and renames it: a full disk leaves no half-written trace. The
folder is checked before anything starts, so a wrong path fails at once.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import sys
from array import array
from typing import Any, Callable, TextIO

import numpy as np

from drivers.interfaces import READ_FAILED, BeltReading, BeltSensor, Imu, ImuBatch, RangeReading, RangeSensor, Relay
from monitor.cli.common import EXIT_FAILED, EXIT_OK, fail, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.formats.trace_format import Trace, TraceError
from monitor.formats.trace_writer import write_trace
from monitor.safety.core import SafetyCore
from monitor.safety.direction import calibrated_facing
from monitor.safety.verdict import Verdict
from monitor.service.loop.clock import MonotonicClock
from monitor.service.loop.daemon import Daemon, LoopClock
from monitor.service.loop.deadline import DeadlineRelay
from monitor.service.loop.stop_guard import protection
from monitor.service.sessions.permit import open_permitted

MIN_STEP_S = 1e-6  # trace times must strictly increase


class Recorder:
    """Every IMU sample, failed read, belt and range reading the loop took, in columns."""

    def __init__(self) -> None:
        self.columns = [array("d") for _ in range(7)]  # t, ax, ay, az, gx, gy, gz (NaN: failed read)
        self.belt: list[tuple[float, float]] = []
        self.range: list[tuple[float, float]] = []
        self.failed_reads = 0

    def imu(self, batch: ImuBatch) -> None:
        columns = self.columns
        for sample in batch.samples:
            for column, value in zip(columns, sample):
                column.append(value)
        for event in batch.health:
            if event.kind == READ_FAILED:
                self.failed_reads += 1
                columns[0].append(event.t_s)
                for column in columns[1:]:
                    column.append(math.nan)

    @property
    def samples(self) -> int:
        return len(self.columns[0])

    def to_trace(self, path: str, meta: dict[str, Any], t0_s: float, *, has_belt: bool,
                 has_range: bool) -> Trace:
        data = np.array([np.frombuffer(c, dtype=np.float64) for c in self.columns]).T.reshape(-1, 7)
        data = data[np.argsort(data[:, 0], kind="stable")]
        t_s = data[:, 0] - t0_s
        for i in range(1, len(t_s)):  # a failed read may share its time with a sample
            if t_s[i] <= t_s[i - 1]:
                t_s[i] = t_s[i - 1] + MIN_STEP_S
        is_ok = np.isfinite(data[:, 1:]).all(axis=1)
        return Trace(path=path, meta=meta, t_s=t_s, accel_mps2=data[:, 1:4], gyro_radps=data[:, 4:7],
                     imu_ok=is_ok,
                     belt_mps=self._column(self.belt, t_s, t0_s) if has_belt else None,
                     range_m=self._column(self.range, t_s, t0_s) if has_range else None)

    @staticmethod
    def _column(readings: list[tuple[float, float]], t_s: np.ndarray, t0_s: float) -> np.ndarray:
        """Each reading on the newest row at or before its time (the first row if none); NaN elsewhere."""
        column = np.full(len(t_s), np.nan)
        times = t_s.tolist()
        for when_s, value in readings:
            row = max(0, bisect.bisect_right(times, when_s - t0_s + 1e-9) - 1)
            if row < len(column):
                column[row] = value
        return column


class RecordingImu(Imu):
    def __init__(self, inner: Imu, recorder: Recorder) -> None:
        self.inner = inner
        self._recorder = recorder

    def read(self) -> ImuBatch:
        batch = self.inner.read()
        self._recorder.imu(batch)
        return batch

    def close(self) -> None:
        self.inner.close()


class RecordingBelt(BeltSensor):
    def __init__(self, inner: BeltSensor, readings: list[tuple[float, float]]) -> None:
        self.inner = inner
        self._readings = readings

    def read(self) -> BeltReading | None:
        reading = self.inner.read()
        if reading is not None:
            self._readings.append((reading.t_s, reading.speed_mps))
        return reading

    def close(self) -> None:
        self.inner.close()


class RecordingRange(RangeSensor):
    def __init__(self, inner: RangeSensor, readings: list[tuple[float, float]]) -> None:
        self.inner = inner
        self._readings = readings

    def read(self) -> RangeReading | None:
        reading = self.inner.read()
        if reading is not None:
            self._readings.append((reading.t_s, reading.distance_m))
        return reading

    def close(self) -> None:
        self.inner.close()


def record_command(args: argparse.Namespace) -> int:
    config = Config()
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as err:
            return report_config_error(err, "nothing was recorded")
    return run_record(args.path, config, seconds=args.seconds)


def check_destination(path: str) -> str | None:
    """What is wrong with writing a trace at `path`, or None."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{path} is a folder: name the trace file to write"
    if not path.endswith((".csv", ".csv.gz")):
        return f"{path}: a trace file's name ends in .csv or .csv.gz"
    if os.path.exists(path):
        return f"{path} already exists: choose another name, or delete it first"
    if not os.path.isdir(folder):
        return f"the folder {folder} does not exist: create it first, or choose another path"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable: choose a folder you may write to"
    return None


def run_record(path: str, config: Config, *, seconds: float | None = None, clock: LoopClock | None = None,
               i2c_bus: Any = None, pin_factory: Any = None,
               on_tick: Callable[[Verdict, SafetyCore], Any] | None = None, out: TextIO | None = None,
               make_permit: Callable[[Relay, float], DeadlineRelay] | None = None,
               relay_keeper: tuple[str, dict] | None = None) -> int:
    """Run the daemon and record its sensors until stopped or `seconds` passed; write the trace.

    The relay is opened as `run` opens it (monitor.service.sessions.permit): behind the
    loop's lease and, with relay.drive = "level", the relay keeper process. Tests pass
    what run_hardware's tests pass: a clock, a fake bus, a pin factory, a permit, a keeper.
    """
    from monitor.service.sessions.hardware import HardwareError

    out = out or sys.stdout
    if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
        return fail(f"--seconds must be a positive number of seconds, not {seconds:g}")
    problem = check_destination(path)
    if problem:
        return fail(f"{problem}; nothing was recorded")
    clock = clock or MonotonicClock()
    try:
        devices, has_keeper = open_permitted(config, clock, i2c_bus=i2c_bus, pin_factory=pin_factory,
                                             make_permit=make_permit, relay_keeper=relay_keeper)
    except HardwareError as err:
        return fail(f"{err}; if the treadguard service is running, stop it first "
                    f"(`sudo systemctl stop treadguard`); nothing was recorded", EXIT_FAILED)
    recorder = Recorder()
    chip = getattr(devices.imu, "chip", type(devices.imu).__name__)
    devices.imu = RecordingImu(devices.imu, recorder)
    if devices.belt is not None:
        devices.belt = RecordingBelt(devices.belt, recorder.belt)
    if devices.range_sensor is not None:
        devices.range_sensor = RecordingRange(devices.range_sensor, recorder.range)
    start_s = clock.now()
    core = SafetyCore(config, start_s=start_s)
    daemon = Daemon(core, devices, clock, on_tick=on_tick)
    daemon.install_signal_handlers()
    until = f"for {seconds:g} s" if seconds is not None else "until Ctrl-C"
    print(f"treadguard record: recording to {path} {until}, with the monitor guarding as in `run`. "
          f"The relay stays released until a reset (`kill -USR1 {os.getpid()}`) while every check passes.",
          file=out, flush=True)
    print(f"treadguard record: if the monitor freezes: {protection(config, has_keeper=has_keeper)}",
          file=out, flush=True)
    try:
        stats = daemon.run(until_s=None if seconds is None else start_s + seconds)
    finally:
        daemon.restore_signal_handlers()
    if recorder.samples == 0:
        return fail(f"the IMU delivered nothing in {clock.now() - start_s:.1f} s; nothing was written: "
                    f"run `treadguard check`", EXIT_FAILED)
    meta: dict[str, Any] = {"source": f"treadguard record: {chip}", "walking": calibrated_facing(config.session.walking)}
    if config.imu.mount:
        meta["imu_mount"] = config.imu.mount
    if config.range.enabled:
        meta["rear_edge_m"] = config.range.rear_edge_m
    trace = recorder.to_trace(path, meta, start_s, has_belt=devices.belt is not None,
                              has_range=devices.range_sensor is not None)
    try:
        write_trace(path, trace)
    except TraceError as err:
        return fail(f"{err}; the recording of {trace.duration_s:.1f} s is lost", EXIT_FAILED)
    first = stats.first_trip
    trips = "" if first is None or first.trip is None else \
        f"; the monitor tripped at {first.t_s - start_s:.2f} s ({first.trip.reason}: {first.trip.detail})"
    print(f"treadguard record: wrote {trace.samples} samples ({trace.duration_s:.1f} s, "
          f"{recorder.failed_reads} failed reads) to {path}{trips}", file=out)
    return EXIT_OK
