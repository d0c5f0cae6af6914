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
walking/running boundaries) are derived again by a fixed recipe (derive())
from every subject but one, and that subject's recordings are replayed and
scored with them (leave one subject out), for each of the 15 SisFall subjects
(the recordings with a mount: without one the gait cue is off, so the
thresholds do not act). The recipe sets each boundary just outside what the
other subjects' own gait reached, with the margins the hand-set defaults left.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devdata import who  # noqa: E402
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


def score(job: tuple) -> dict:
    path, is_reversed, walking, config, *keep = job  # keep: also return every 10th tick's gait figures
    trace = read_trace(path)
    trace = Trace(trace.path, trace.meta, trace.t_s, trace.accel_mps2, trace.gyro_radps, trace.imu_ok, None, None)
    if is_reversed:
        trace = reversed_in_time(trace)
    trace = with_walking(trace, walking)
    daemon = build_replay(trace, config)
    ticks = {"walk_ticks": 0, "backward": 0, "unknown": 0, "least_evidence": 1.0}
    first_gait: list[float] = []
    gait: list[tuple[float, float, float]] = []
    ticks_kept: list[tuple[float, float, float]] = []

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
            if keep and len(gait) % 10 == 0:
                ticks_kept.append(gait[-1])
        state = core.direction.state
        ticks["least_evidence"] = min(ticks["least_evidence"], d.evidence)  # -1: decided backward
        ticks["backward"] += state is Direction.BACKWARD
        ticks["unknown"] += state is Direction.UNKNOWN

    daemon.on_tick = on_tick
    daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True)
    return {"path": path, "dataset": dataset(path), "reversed": is_reversed, "walking": walking,
            "mount": "imu_mount" in trace.meta, **ticks,
            "gait": [round(float(x), 2) for x in np.median(gait, axis=0)] if gait else None,
            "gait_p": [round(float(x), 2) for x in np.percentile(gait, (5, 95), axis=0).ravel()] if gait else None,
            "changes": [(round(c.t_s - float(trace.t_s[0]), 1), c.direction.value, c.cue.value)
                        for c in daemon.core.direction.changes],
            "ticks": np.array(ticks_kept, dtype=np.float32).reshape(-1, 3) if keep else None}


THRESHOLDS = ("walk_max_step_hz", "run_min_step_hz", "walk_max_vertical_mps2", "run_min_vertical_mps2",
              "min_correlation")


def _ceil_to(x: float, step: float) -> float:
    return round(math.ceil(round(x / step, 6)) * step, 3)


def _floor_to(x: float, step: float) -> float:
    return round(math.floor(round(x / step, 6)) * step, 3)


def derive(rows: list[dict]) -> dict[str, float]:
    """The gait thresholds from the forward walking (D01, D02) and jogging (D03, D04) recordings given:
    each boundary just outside what those recordings' own gait reached (per recording, its 5th or 95th
    percentile), with the margins the hand-set defaults left; min_correlation just above the strongest
    wrong-way correlation a recording held for 1 % of its gait."""
    walking = [r["ticks"] for r in rows if who(r["path"])[0] in ("D01", "D02") and len(r["ticks"])]
    jogging = [r["ticks"] for r in rows if who(r["path"])[0] in ("D03", "D04") and len(r["ticks"])]
    walk_max_step_hz = _floor_to(min(np.percentile(t[:, 0], 5) for t in jogging) - 0.05, 0.05)
    wrong_way = max([-np.percentile(t[:, 2], 1) for t in walking] + [np.percentile(t[:, 2], 99) for t in jogging])
    return {"wrong_way_correlation": round(float(wrong_way), 3),"walk_max_step_hz": walk_max_step_hz,
            "run_min_step_hz": round(walk_max_step_hz + 0.1, 3),
            "walk_max_vertical_mps2": _ceil_to(1.15 * max(np.percentile(t[:, 1], 95) for t in walking), 0.1),
            "run_min_vertical_mps2": _floor_to(0.9 * min(np.percentile(t[:, 1], 5) for t in jogging), 0.1),
            "min_correlation": min(0.9, _ceil_to(max(0.1, wrong_way + 0.05), 0.05))}


def hold_out(data: Path, jobs: int) -> int:
    """Leave one subject out: thresholds derived from the others, the subject replayed with them."""
    mounted = [str(p) for p in recordings(data) if dataset(str(p)).startswith("sisfall")]
    default = Config()
    with multiprocessing.Pool(jobs) as pool:
        learned = pool.map(score, [(p, False, None, default, True) for p in mounted], chunksize=1)
        people = sorted({who(p)[1] for p in mounted})
        every = derive(learned)
        print("derived from all subjects: " + ", ".join(f"{k} {v:g}" for k, v in every.items() if k in THRESHOLDS)
              + f" (the strongest wrong-way correlation held for 1 % of a recording's gait: "
              f"{every['wrong_way_correlation']:g})")
        print("the defaults:              " + ", ".join(f"{k} {getattr(default.direction, k):g}" for k in THRESHOLDS))
        folds = {s: derive([r for r in learned if who(r["path"])[1] != s]) for s in people}
        for fold in folds.values():
            fold.pop("wrong_way_correlation")
        configs = {s: replace(default, direction=replace(default.direction, **folds[s])) for s in people}
        runs = [(p, rev, None, configs[who(p)[1]]) for p in mounted for rev in (False, True)]
        held = pool.map(score, runs, chunksize=1)
        usual = pool.map(score, [(p, rev, None, default) for p in mounted for rev in (False, True)], chunksize=1)
    print(f"{'held out':8} {'walk_max':>8} {'run_min':>7} {'walk_max':>8} {'run_min':>7} {'min':>5}  forward copies: "
          f"reported backward, least evidence | reversed: backward share of walking time")
    print(f"{'':8} {'step_hz':>8} {'step_hz':>7} {'v_mps2':>8} {'v_mps2':>7} {'corr':>5}  (in brackets: with the "
          f"defaults; evidence -1 decides backward)")
    for s in people:
        mine = [r for r in held if who(r["path"])[1] == s]
        theirs = [r for r in usual if who(r["path"])[1] == s]
        f = folds[s]
        print(f"{s:8} {f['walk_max_step_hz']:8g} {f['run_min_step_hz']:7g} {f['walk_max_vertical_mps2']:8g} "
              f"{f['run_min_vertical_mps2']:7g} {f['min_correlation']:5g}  "
              f"{sum(bool(r['backward']) for r in mine if not r['reversed'])} of "
              f"{sum(not r['reversed'] for r in mine)} ({sum(bool(r['backward']) for r in theirs if not r['reversed'])})"
              f", {_least(mine):+.2f} ({_least(theirs):+.2f}) | {_share(mine)} ({_share(theirs)})")
    for name, group in (("young", "SA"), ("older", "SE")):
        mine = [r for r in held if who(r["path"])[1].startswith(group)]
        theirs = [r for r in usual if who(r["path"])[1].startswith(group)]
        print(f"all {name} subjects held out: forward copies reported backward "
              f"{sum(bool(r['backward']) for r in mine if not r['reversed'])} of {sum(not r['reversed'] for r in mine)}"
              f" ({sum(bool(r['backward']) for r in theirs if not r['reversed'])} with the defaults), least evidence "
              f"{_least(mine):+.2f} ({_least(theirs):+.2f}); reversed: "
              f"{_share(mine)} ({_share(theirs)}), worst trace {_worst(mine)} ({_worst(theirs)})")
    return 0


def _least(rows: list[dict]) -> float:
    """The least gait evidence any forward copy reached after its first 10 s of gait."""
    return min(r["least_evidence"] for r in rows if not r["reversed"])


def _share(rows: list[dict]) -> str:
    reversed_rows = [r for r in rows if r["reversed"]]
    walk = sum(r["walk_ticks"] for r in reversed_rows)
    return f"{100 * sum(r['backward'] for r in reversed_rows) / walk:5.1f} %" if walk else "  -  "


def _worst(rows: list[dict]) -> str:
    scored = [r for r in rows if r["reversed"] and r["walk_ticks"]]
    if not scored:
        return "-"
    worst = min(scored, key=lambda r: r["backward"] / r["walk_ticks"])
    return f"{Path(worst['path']).name.removesuffix('.csv.gz')} {100 * worst['backward'] / worst['walk_ticks']:.0f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a [direction] setting, e.g. --set min_correlation=0.3")
    parser.add_argument("--list", action="store_true", help="print every trace's figures and changes")
    parser.add_argument("--hold-out", action="store_true",
                        help="the gait thresholds derived with each SisFall subject left out, that subject scored")
    args = parser.parse_args()
    if args.hold_out:
        return hold_out(args.data, args.jobs)
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
