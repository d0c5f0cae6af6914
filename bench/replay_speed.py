"""Prints treadguard's replay speed beside a plain numpy threshold replay of the same files, in one run.

    python bench/replay_speed.py [PATH ...] [--jobs N] [--repeat K] [--no-compiled]

The plain replay is what a person would write first: read each trace with numpy
(gzip, np.loadtxt) and find the first sample whose acceleration passes 3 g or
whose angular rate passes 3.1 rad/s. treadguard's replay runs each trace
through the daemon's own loop and core (`treadguard replay`'s code path). Both
use the same files and the same number of worker processes; the figure is
samples per second of wall time, best of --repeat runs, and their ratio.
When the compiled build is there and current (bench/build_compiled.py), the
same replay also runs with it (TREADGUARD_COMPILED=1, in a child process, as
the opt-in must come before `import monitor`), and its ratio is printed too.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import compiled  # noqa: E402
from monitor.config.schema import Config  # noqa: E402
from monitor.service.sessions.replay_many import replay_path  # noqa: E402

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


def compiled_wall_s(paths: list[str], jobs: int, repeat: int) -> tuple[float | None, str]:
    """(best wall seconds, build) of treadguard's replay with the compiled build, in a child process."""
    child = subprocess.run(
        [sys.executable, __file__, "--treadguard-only", "--jobs", str(jobs), "--repeat", str(repeat), *paths],
        capture_output=True, text=True, env={**os.environ, compiled.ENV: "1"})
    if child.returncode != 0 or not child.stdout.strip():
        return None, child.stderr.strip() or f"exit status {child.returncode}"
    found = json.loads(child.stdout.splitlines()[-1])
    if not found["build"].startswith("compiled"):
        return None, child.stderr.strip()
    return found["wall_s"], found["build"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-compiled", action="store_true", help="do not also time the compiled build")
    parser.add_argument("--treadguard-only", action="store_true", help=argparse.SUPPRESS)  # the compiled child
    args = parser.parse_args()
    paths = args.paths or sorted(str(p) for p in DATA.glob("*/*.csv.gz"))
    if not paths:
        print(f"no traces given and none found in {DATA}", file=sys.stderr)
        return 1
    if args.treadguard_only:
        wall_s = min(timed(treadguard_replay, paths, args.jobs)[0] for _ in range(args.repeat))
        print(json.dumps({"wall_s": wall_s, "build": compiled.BUILD}))
        return 0
    best: dict[str, float] = {}
    samples = 0
    for _ in range(args.repeat):
        for name, work in (("numpy threshold", threshold_replay), ("treadguard", treadguard_replay)):
            wall_s, samples = timed(work, paths, args.jobs)
            best[name] = min(best.get(name, wall_s), wall_s)
    compiled_note = "not timed (--no-compiled)"
    if not args.no_compiled:
        if compiled.BUILD != "pure Python":
            compiled_note = "not timed: this run already uses it (TREADGUARD_COMPILED is set)"
        else:
            wall_s, compiled_note = compiled_wall_s(paths, args.jobs, args.repeat)
            if wall_s is not None:
                best["treadguard compiled"] = wall_s
    print(f"{len(paths)} traces, {samples:,} samples, {args.jobs} worker process(es), best of {args.repeat}; "
          f"treadguard: {compiled.BUILD}:")
    for name, wall_s in best.items():
        print(f"  {name:19} {wall_s:6.2f} s  {samples / wall_s:12,.0f} samples/s")
    ratio = best["numpy threshold"] / best["treadguard"]
    print(f"treadguard replay at {ratio:.2f} x the samples per second of the numpy threshold replay")
    if "treadguard compiled" in best:
        ratio = best["numpy threshold"] / best["treadguard compiled"]
        print(f"treadguard replay, compiled build, at {ratio:.2f} x ({compiled_note})")
    else:
        print(f"compiled build {compiled_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
