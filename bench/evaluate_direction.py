"""Scores the walking-direction estimate on the real forward recordings and on them reversed in time.

    python bench/evaluate_direction.py [--data DIR] [--jobs N] [--hold-out] [--set NAME=VALUE ...]

There is no real recording of backward walking. Backward walking is close to
forward walking run backwards in time (Grasso et al. 1998), so each forward
recording (SisFall D01-D04 young and older walkers and joggers, mobgap bouts,
Moving Reality treadmill trials after a stroke) is replayed as recorded and
reversed (specific force a(t) -> a(T - t), rate w(t) -> -w(T - t)), each with
its `walking` metadata absent and set to "forward" (for the reversed copy, the
person who declared forward and walks backwards). Every copy goes through the
real replay path; the direction is read at every loop tick.

Figures, per dataset: forward copies: how many reported backward at any tick
after the first 10 s of gait (must be none); reversed copies: the share of the
walking time after the first 10 s of gait reported backward (must be >= 95 %),
the worst trace, and the share reported unknown. Walking time: ticks with a
step in the last 1.5 s (the estimator's own step tracker).

--hold-out: the thresholds that came from the data (min_correlation, the
walking/running boundaries) are re-derived with each SisFall subject left out
and that subject scored with them, to show the margin is not fitted to it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.schema import Config  # noqa: E402
from monitor.formats.trace_format import Trace  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.safety.direction import Direction  # noqa: E402
from monitor.service.sessions.replay import build_replay  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GAIT_SKIP_S = 10.0


def recordings(data: Path) -> list[Path]:
    out = sorted((data / "sisfall-dev").glob("sisfall-D0[1-4]-*.csv.gz"))
    out += sorted((data / "sisfall-elderly-dev").glob("*.csv.gz"))
    out += sorted((data / "mobgap-dev").glob("*.csv.gz"))
    out += sorted((data / "movingreality-dev").glob("*.csv.gz"))
    return out


def dataset(path: str) -> str:
    name = Path(path.split("#")[0]).name
    if name.startswith("sisfall"):
        return "sisfall-elderly" if "-SE" in name else "sisfall"
    return name.split("-")[0]


def reversed_in_time(trace: Trace) -> Trace:
    """The same recording played backwards: a(t) -> a(T - t), w(t) -> -w(T - t), same time base."""
    return Trace(trace.path + "#reversed", dict(trace.meta), trace.t_s, trace.accel_mps2[::-1].copy(),
                 -trace.gyro_radps[::-1], trace.imu_ok[::-1].copy(), None, None)


def with_walking(trace: Trace, walking: str | None) -> Trace:
    meta = {k: v for k, v in trace.meta.items() if k != "walking"}
    if walking is not None:
        meta["walking"] = walking
    return Trace(trace.path, meta, trace.t_s, trace.accel_mps2, trace.gyro_radps, trace.imu_ok,
                 trace.belt_mps, trace.range_m)


def score(job: tuple[str, bool, str | None, Config]) -> dict:
    path, is_reversed, walking, config = job
    trace = read_trace(path)
    trace = Trace(trace.path, trace.meta, trace.t_s, trace.accel_mps2, trace.gyro_radps, trace.imu_ok, None, None)
    if is_reversed:
        trace = reversed_in_time(trace)
    trace = with_walking(trace, walking)
    daemon = build_replay(trace, config)
    ticks = {"walk_ticks": 0, "backward": 0, "unknown": 0}
    first_gait: list[float] = []
    gait: list[tuple[float, float, float]] = []

    def on_tick(verdict, core) -> None:
        steps = core.direction.steps
        if steps.period_s is None or verdict.t_s - steps.last_step_s > 1.5:
            return
        if not first_gait:
            first_gait.append(verdict.t_s)
        if verdict.t_s < first_gait[0] + GAIT_SKIP_S:
            return
        ticks["walk_ticks"] += 1
        d = core.direction
        if d.gait != "none":
            gait.append((d.step_hz, d.bounce_mps2, d.raw_correlation))
        state = core.direction.state
        ticks["backward"] += state is Direction.BACKWARD
        ticks["unknown"] += state is Direction.UNKNOWN

    daemon.on_tick = on_tick
    daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True)
    return {"path": path, "dataset": dataset(path), "reversed": is_reversed, "walking": walking,
            "mount": "imu_mount" in trace.meta, **ticks,
            "gait": [round(float(x), 2) for x in np.median(gait, axis=0)] if gait else None,
            "gait_p": [round(float(x), 2) for x in np.percentile(gait, (5, 95), axis=0).ravel()] if gait else None,
            "changes": [(round(c.t_s - float(trace.t_s[0]), 1), c.direction.value, c.cue.value)
                        for c in daemon.core.direction.changes]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a [direction] setting, e.g. --set min_correlation=0.3")
    parser.add_argument("--list", action="store_true", help="print every trace's figures and changes")
    args = parser.parse_args()
    direction = Config().direction
    for item in args.set:
        name, value = item.split("=", 1)
        direction = replace(direction, **{name: float(value)})
    config = replace(Config(), direction=direction)
    jobs = [(str(p), rev, walking, config) for p in recordings(args.data)
            for rev in (False, True) for walking in (None, "forward")]
    with multiprocessing.Pool(args.jobs) as pool:
        rows = pool.map(score, jobs, chunksize=1)
    by: dict[tuple[str, bool, str | None], list[dict]] = defaultdict(list)
    for r in rows:
        by[(r["dataset"], r["reversed"], r["walking"])].append(r)
        if args.list:
            print(f"{Path(r['path']).name:44} {'rev' if r['reversed'] else 'fwd'} {str(r['walking']):7} "
                  f"walk {r['walk_ticks'] / 100:6.1f} s bwd {r['backward'] / 100:6.1f} s unk {r['unknown'] / 100:6.1f} s "
                  f"gait {r['gait']} {r['changes'][:4]}")
    print(f"{'dataset':16} {'copy':9} {'walking':8} {'traces':>6} {'mount':>5} {'walk h':>7}  result")
    for (name, is_reversed, walking), group in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))):
        walk = sum(r["walk_ticks"] for r in group)
        mount = sum(r["mount"] for r in group)
        head = (f"{name:16} {'reversed' if is_reversed else 'forward':9} {str(walking or 'absent'):8} "
                f"{len(group):6} {mount:5} {walk / 100 / 3600:7.3f}  ")
        if not is_reversed:
            wrong = [r for r in group if r["backward"]]
            print(head + f"{len(wrong)} reported backward after 10 s of gait"
                  + (f" ({', '.join(Path(r['path']).name for r in wrong[:3])})" if wrong else ""))
        else:
            share = sum(r["backward"] for r in group) / walk if walk else float("nan")
            unknown = sum(r["unknown"] for r in group) / walk if walk else float("nan")
            scored = [r for r in group if r["walk_ticks"]]
            worst = min(scored, key=lambda r: r["backward"] / r["walk_ticks"]) if scored else None
            print(head + f"backward {100 * share:5.1f} % of walking time, unknown {100 * unknown:4.1f} %"
                  + (f"; worst {Path(worst['path']).name} {100 * worst['backward'] / worst['walk_ticks']:.0f} %"
                     if worst else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
