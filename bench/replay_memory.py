"""Measures the peak memory (RSS) of `treadguard replay` on a long trace: one hour at 200 Hz.

    python bench/replay_memory.py [--minutes 60] [--keep FILE]

Builds the hour from a real 100 s walking recording (SisFall D01, 200 Hz) played
forward and backward in turn with its times shifted (backward with the gyroscope
negated, so orientation stays continuous at each turn and nothing trips on a
seam), writes it gzip-compressed to a temporary folder, replays it in a child
process and prints the child's peak RSS. The same figure comes from
`/usr/bin/time -v treadguard replay FILE --json` ("Maximum resident set size")
on the file kept with --keep. Budget: 80 MiB (a Pi Zero 2 W has 512 MB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.formats.trace_format import Trace  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.formats.trace_writer import write_trace  # noqa: E402

WALKING = ROOT.parent / "shared" / "data" / "sisfall-dev" / "sisfall-D01-SA01-R01.csv.gz"


def long_walk(minutes: float) -> Trace:
    """`minutes` of walking at the source's rate, from one recording played to and fro."""
    source = read_trace(WALKING)
    period_s = float(np.median(np.diff(source.t_s)))
    rows = int(minutes * 60 / period_s)
    accel, gyro, ok = [], [], []
    n = 0
    forward = True
    while n < rows:
        step = slice(None) if forward else slice(None, None, -1)
        accel.append(source.accel_mps2[step])
        gyro.append(source.gyro_radps[step] * (1.0 if forward else -1.0))
        ok.append(source.imu_ok[step])
        n += source.samples
        forward = not forward
    t_s = np.arange(rows) * period_s
    meta = {k: v for k, v in source.meta.items() if k != "label"}
    meta["source"] = f"{WALKING.name} played to and fro for {minutes:g} min (bench/replay_memory.py)"
    return Trace("<memory>", meta, t_s, np.concatenate(accel)[:rows], np.concatenate(gyro)[:rows],
                 np.concatenate(ok)[:rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--keep", help="write the long trace here (and keep it) instead of a temporary file")
    parser.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_only:
        trace = long_walk(args.minutes)
        write_trace(args.keep, trace)
        print(f"{Path(args.keep).name}: {trace.samples} samples, {trace.duration_s / 60:.1f} min, "
              f"{Path(args.keep).stat().st_size / 2**20:.1f} MiB gzip")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.keep) if args.keep else Path(folder) / "long-walk.csv.gz"
        # Made in a child of its own: a child's peak RSS counts the memory of the parent it
        # was forked from, so this process stays small.
        subprocess.run([sys.executable, __file__, "--make-only", "--minutes", str(args.minutes),
                        "--keep", str(path)], check=True)
        command = [sys.executable, "-m", "monitor.cli.main", "replay", str(path), "--json"]
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall_s = time.perf_counter() - start
        print(out.strip())
        print(f"replay: peak RSS {usage.ru_maxrss / 1024:.1f} MiB, {wall_s:.0f} s wall (budget 80 MiB)")
        return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
