"""Measures the CPU time the daemon loop spends per tick and per IMU sample.

    python bench/loop_cost.py [TRACE]   (default: a 100 s fast-walking recording)

Runs the real loop (fake drivers, simulated clock, so no sleeping) over a trace
that does not trip, and prints CPU microseconds per tick and per sample on this
machine. A Raspberry Pi Zero 2 W runs Python roughly ten times slower.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.schema import Config  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.service.replay import build_replay  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "sisfall-dev" / "sisfall-D02-SA01-R01.csv.gz"


def measure(path: str, repeats: int = 3) -> None:
    trace = read_trace(path)
    config = Config()
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
    print(f"{Path(path).name}: {trace.samples} samples at {rate:.0f} Hz, {stats.ticks} ticks at "
          f"{config.loop.rate_hz:g} Hz, best of {repeats}")
    print(f"  CPU per tick {per_tick_us:.1f} us ({trace.samples / stats.ticks:.1f} samples per tick), "
          f"per sample {best / trace.samples * 1e6:.1f} us")
    print(f"  loop CPU load here {per_tick_us * config.loop.rate_hz / 1e4:.2f} %, "
          f"on a Pi Zero 2 W (x10) about {per_tick_us * config.loop.rate_hz / 1e3:.1f} %")


if __name__ == "__main__":
    measure(sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT))
