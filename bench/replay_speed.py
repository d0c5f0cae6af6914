"""Prints treadguard's replay speed beside a plain numpy threshold replay of the same files, in one run.

    python bench/replay_speed.py [PATH ...] [--jobs N] [--repeat K]

The plain replay is what a person would write first: read each trace with numpy
(gzip, np.loadtxt) and find the first sample whose acceleration passes 3 g or
whose angular rate passes 3.1 rad/s. treadguard's replay runs each trace
through the daemon's own loop and core (`treadguard replay`'s code path). Both
use the same files and the same number of worker processes; the figure is
samples per second of wall time, best of --repeat runs, and their ratio.
"""

from __future__ import annotations

import argparse
import gzip
import io
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.cli.replay import replay_path  # noqa: E402
from monitor.config.schema import Config  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
G = 9.80665


def threshold_replay(path: str) -> tuple[int, float | None]:
    """(samples, first trip time or None) by a plain numpy threshold detector."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    lines = raw.decode("utf-8").splitlines()
    start = 1
    while lines[start].startswith("#"):
        start += 1
    header = [c.strip() for c in lines[start].split(",")]
    columns = [header.index(c) for c in ("t", "ax", "ay", "az", "gx", "gy", "gz")]
    data = np.loadtxt(io.StringIO("\n".join(lines[start + 1:])), delimiter=",", usecols=columns, ndmin=2)
    accel = np.sqrt((data[:, 1:4] ** 2).sum(axis=1))
    gyro = np.sqrt((data[:, 4:7] ** 2).sum(axis=1))
    hits = np.flatnonzero((accel > 3 * G) | (gyro > 3.1))
    return len(data), (float(data[hits[0], 0]) if hits.size else None)


def treadguard_replay(path: str) -> tuple[int, float | None]:
    result, error = replay_path((path, Config()))
    if result is None:
        raise RuntimeError(error)
    return result.samples, result.trip_t


def timed(work, paths: list[str], jobs: int) -> tuple[float, int]:
    start = time.perf_counter()
    with multiprocessing.Pool(jobs) as pool:
        results = pool.map(work, paths, chunksize=1)
    return time.perf_counter() - start, sum(n for n, _ in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = args.paths or sorted(str(p) for p in DATA.glob("*/*.csv.gz"))
    if not paths:
        print(f"no traces given and none found in {DATA}", file=sys.stderr)
        return 1
    best: dict[str, float] = {}
    samples = 0
    for _ in range(args.repeat):
        for name, work in (("numpy threshold", threshold_replay), ("treadguard", treadguard_replay)):
            wall_s, samples = timed(work, paths, args.jobs)
            best[name] = min(best.get(name, wall_s), wall_s)
    print(f"{len(paths)} traces, {samples:,} samples, {args.jobs} worker process(es), best of {args.repeat}:")
    for name, wall_s in best.items():
        print(f"  {name:16} {wall_s:6.2f} s  {samples / wall_s:12,.0f} samples/s")
    ratio = best["numpy threshold"] / best["treadguard"]
    print(f"treadguard replay at {ratio:.2f} x the samples per second of the numpy threshold replay")
    return 0


if __name__ == "__main__":
    sys.exit(main())
