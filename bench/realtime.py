"""Prints the daemon loop's tick distribution on the real clock, with a trip record written mid-run.

    python bench/realtime.py [--seconds 60] [--normal-only] [TRACE]

For a 100 Hz loop with a 200 Hz IMU and a 200 Hz loop with a 500 Hz IMU, the
real loop (fake devices playing a walking recording re-timed onto the real
clock) runs for --seconds. Halfway through, the IMU goes silent for 0.3 s: the
core trips (imu_stale) and the trip recorder writes its record (explanation and
the seconds of data around it) while the loop goes on ticking. Each run is done
at normal priority and, where this process may have it, under SCHED_FIFO with
locked memory, as the service runs. Prints per-tick wall and CPU time
(p50/p99/p99.9/max), how late ticks started, late and skipped ticks, and gc.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.schema import Config  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.service.loop.loop_timing import measure  # noqa: E402
from monitor.service.loop.realtime import prepare_process  # noqa: E402
from monitor.service.trips.trip_record import TripRecorder  # noqa: E402
from monitor.service.trips.worker_process import ProcessSideline  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "sisfall-dev" / "sisfall-D02-SA01-R01.csv.gz"
SETUPS = ((100.0, 200.0), (200.0, 500.0))


def one_run(loop_hz: float, imu_hz: float, seconds: float, samples, folder: str) -> str:
    config = Config()
    config = replace(config, loop=replace(config.loop, rate_hz=loop_hz),
                     imu=replace(config.imu, sample_rate_hz=imu_hz),
                     record=replace(config.record, trip_dir=folder))
    records = ProcessSideline("monitor.service.trips.trip_record:stderr_writer", (folder,), maxsize=4,
                              name="trip-records")
    holder: dict = {}

    def on_tick(verdict, core):
        recorder = holder.get("recorder")
        if recorder is None:
            recorder = holder["recorder"] = TripRecorder(core, records.offer)
        recorder.on_tick(verdict, core)

    def trip_halfway(imu, start_s):
        imu.go_silent(start_s + seconds / 2, start_s + seconds / 2 + 0.3)

    budget = measure(config, seconds, samples=samples, on_tick=on_tick, setup=trip_halfway)
    records.close(timeout_s=10.0)
    written = sorted(p.name for p in Path(folder).glob("trip-*"))
    head = f"loop {loop_hz:g} Hz, IMU {imu_hz:g} Hz, {seconds:g} s, trip record: " + (
        ", ".join(written) if written else "none written")
    return head + "\n  " + budget.describe().replace("\n", "\n  ")


def simulated_hour() -> int:
    """An hour of the loop (100 Hz, a 200 Hz IMU) on a simulated clock, as fast as it goes."""
    from drivers.fake import FakeImu, FakeRelay
    from monitor.safety.core import SafetyCore
    from monitor.service.loop.clock import SimulatedClock
    from monitor.service.loop.daemon import Daemon, Devices
    from monitor.service.loop.loop_timing import standing_samples
    from monitor.service.loop.tick_budget import GcPolicy, TickBudget

    config = Config()
    config = replace(config, belt=replace(config.belt, enabled=False))
    clock = SimulatedClock(0.0)
    imu = FakeImu(clock.now, standing_samples(0.0, 3601.0, config.imu.sample_rate_hz))
    core = SafetyCore(config, start_s=0.0, has_belt=False, has_range=False)
    budget = TickBudget(1.0 / config.loop.rate_hz)
    daemon = Daemon(core, Devices(imu=imu, relay=FakeRelay(clock.now)), clock, budget=budget,
                    gc_policy=GcPolicy(budget))
    stats = daemon.run(until_s=3600.0, arm_at_start=True)
    s = budget.summary()
    print(f"1 simulated hour: {stats.ticks} ticks, gc collections by generation {s['gc_collections']} "
          f"(the full one is the start-up collection before the loop), full collections inside the loop: "
          f"{s['gc_full_in_loop']}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", nargs="?", default=str(DEFAULT))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--normal-only", action="store_true", help="skip the SCHED_FIFO runs")
    parser.add_argument("--simulated-hour", action="store_true",
                        help="instead: run the loop for one hour on a simulated clock and count gc collections")
    args = parser.parse_args()
    if args.simulated_hour:
        return simulated_hour()
    samples = None
    if Path(args.trace).exists():
        trace = read_trace(args.trace)
        samples = [tuple(row) for row in
                   zip(trace.t_s.tolist(), *trace.accel_mps2.T.tolist(), *trace.gyro_radps.T.tolist())]
    print(f"IMU data: {args.trace if samples else 'quiet standing (trace not found)'}")
    for priority in ("normal", "fifo"):
        if priority == "fifo":
            if args.normal_only:
                break
            report = prepare_process()
            print("\n" + "; ".join(report.lines))
            if not report.is_fifo:
                print("SCHED_FIFO not available here: skipped")
                break
        print(f"\n== {priority} priority (pid {os.getpid()})")
        for loop_hz, imu_hz in SETUPS:
            with tempfile.TemporaryDirectory() as folder:
                print(one_run(loop_hz, imu_hz, args.seconds, samples, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
