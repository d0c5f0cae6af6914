"""Measures the CPU time the daemon loop spends per tick and per IMU sample.

    python bench/loop_cost.py [TRACE] [--repeats N]   (default: a 100 s fast-walking recording)

Runs the real loop (fake drivers, simulated clock, so no sleeping) over a trace
that does not trip, and prints CPU microseconds per tick and per sample on this
machine, for three set-ups: the trace as recorded with a 100 Hz loop, the trace
resampled to 200 Hz with a 100 Hz loop, and resampled to 500 Hz with a 200 Hz
loop (linear interpolation: the detector's per-sample work does not depend on
what the samples contain, only on how many there are and on how often its gate
opens). A Raspberry Pi Zero 2 W runs Python roughly ten times slower. The best
of N runs is kept, since other work on the machine only ever adds time.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.schema import Config, LoopConfig  # noqa: E402
from monitor.formats.trace_format import Trace  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.service.sessions.replay import build_replay  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "sisfall-dev" / "sisfall-D02-SA01-R01.csv.gz"


def resample(trace: Trace, rate_hz: float) -> Trace:
    """The IMU columns interpolated onto a regular rate_hz clock."""
    t = np.arange(trace.t_s[0], trace.t_s[-1], 1.0 / rate_hz)
    acc = np.column_stack([np.interp(t, trace.t_s, trace.accel_mps2[:, k]) for k in range(3)])
    gyr = np.column_stack([np.interp(t, trace.t_s, trace.gyro_radps[:, k]) for k in range(3)])
    return Trace(f"{trace.path}@{rate_hz:g}Hz", trace.meta, t, acc, gyr, np.ones(len(t), bool))


def measure(trace: Trace, loop_hz: float, repeats: int) -> None:
    config = replace(Config(), loop=LoopConfig(rate_hz=loop_hz))
    best = None
    for _ in range(repeats):
        daemon = build_replay(trace, config)
        start = time.process_time()
        stats = daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True)
        cpu_s = time.process_time() - start
        best = cpu_s if best is None else min(best, cpu_s)
    assert stats.first_trip is None, "pick a trace that does not trip"
    rate = trace.samples / trace.duration_s
    per_tick_us = best / stats.ticks * 1e6
    print(f"{Path(trace.path).name}: IMU {rate:.0f} Hz, loop {loop_hz:g} Hz ({stats.ticks} ticks), best of {repeats}")
    print(f"  CPU per tick {per_tick_us:.1f} us ({trace.samples / stats.ticks:.1f} samples per tick), "
          f"per sample {best / trace.samples * 1e6:.1f} us")
    print(f"  loop CPU load here {per_tick_us * loop_hz / 1e4:.2f} %, "
          f"on a Pi Zero 2 W (x10) about {per_tick_us * loop_hz / 1e3:.1f} %")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    trace = read_trace(args.trace)
    measure(trace, 100.0, args.repeats)
    measure(resample(trace, 200.0), 100.0, args.repeats)
    measure(resample(trace, 500.0), 200.0, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
