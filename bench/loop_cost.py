"""Measures the CPU time the daemon loop spends per tick and per IMU sample.

    python bench/loop_cost.py [TRACE] [--repeats N] [--no-compiled]   (default: a 100 s fast-walking recording)

Runs the real loop (fake drivers, simulated clock, so no sleeping) over a trace
that does not trip, and prints CPU microseconds per tick and per sample on this
machine, for three set-ups: the trace as recorded with a 100 Hz loop, the trace
resampled to 200 Hz with a 100 Hz loop, and resampled to 500 Hz with a 200 Hz
loop (linear interpolation: the detector's per-sample work does not depend on
what the samples contain, only on how many there are and on how often its gate
opens). A Raspberry Pi Zero 2 W runs Python roughly ten times slower. The best
of N runs is kept, since other work on the machine only ever adds time.
When the compiled build is there and current (bench/build_compiled.py), the
same set-ups also run with it, in a child process, and its per-sample cost is
printed beside the pure-Python one as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import compiled  # noqa: E402
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


def measure(trace: Trace, loop_hz: float, repeats: int, quiet: bool = False) -> float:
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
    if quiet:
        return best / trace.samples * 1e6
    per_tick_us = best / stats.ticks * 1e6
    print(f"{Path(trace.path).name}: IMU {rate:.0f} Hz, loop {loop_hz:g} Hz ({stats.ticks} ticks), best of {repeats}")
    print(f"  CPU per tick {per_tick_us:.1f} us ({trace.samples / stats.ticks:.1f} samples per tick), "
          f"per sample {best / trace.samples * 1e6:.1f} us")
    print(f"  loop CPU load here {per_tick_us * loop_hz / 1e4:.2f} %, "
          f"on a Pi Zero 2 W (x10) about {per_tick_us * loop_hz / 1e3:.1f} %")
    return best / trace.samples * 1e6


def compiled_per_sample_us(trace_path: str, repeats: int) -> list[float] | str:
    """The same three set-ups with the compiled build (in a child process: the opt-in comes before
    `import monitor`): per-sample microseconds, or why it could not run."""
    child = subprocess.run([sys.executable, __file__, trace_path, "--repeats", str(repeats), "--per-sample-only"],
                           capture_output=True, text=True, env={**os.environ, compiled.ENV: "1"})
    if child.returncode != 0:
        return child.stderr.strip() or f"exit status {child.returncode}"
    found = json.loads(child.stdout)
    if not found["build"].startswith("compiled"):
        return f"the compiled build did not run ({child.stderr.strip() or found['build']})"
    return found["per_sample_us"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compiled", action="store_true", help="do not also time the compiled build")
    parser.add_argument("--per-sample-only", action="store_true", help=argparse.SUPPRESS)  # the compiled child
    args = parser.parse_args()
    trace = read_trace(args.trace)
    setups = ((trace, 100.0), (resample(trace, 200.0), 100.0), (resample(trace, 500.0), 200.0))
    if args.per_sample_only:
        print(json.dumps({"build": compiled.BUILD,
                          "per_sample_us": [measure(t, hz, args.repeats, quiet=True) for t, hz in setups]}))
        return 0
    print(f"build: {compiled.BUILD}")
    pure = [measure(t, hz, args.repeats) for t, hz in setups]
    if args.no_compiled or compiled.BUILD != "pure Python":
        return 0
    found = compiled_per_sample_us(args.trace, args.repeats)
    if isinstance(found, str):
        print(f"compiled build: not timed: {found} (build it with `python bench/build_compiled.py`)")
        return 0
    for (t, hz), slow, fast in zip(setups, pure, found):
        print(f"compiled build, {Path(t.path).name} at loop {hz:g} Hz: per sample {fast:.1f} us, "
              f"{fast / slow:.2f} x the pure-Python {slow:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
