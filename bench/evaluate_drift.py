"""Scores stopped-stepping drift (IMU + belt speed, no range sensor) on real recordings.

    python bench/evaluate_drift.py [--data FOLDER] [--jobs N] [--loso]

Everything goes through `monitor.service.sessions.replay.replay`, the daemon's own loop and
core, at the default configuration (or the one --loso picks per held-out subject).

1. Walking on a belt: every slow (D01) and fast (D02) SisFall walk and every mobgap
   bout, with a belt_mps column at 0.5, 0.75, 1.0, 1.25 and 1.5 m/s while the
   walker walks. The belt speeds up at the bench treadmill's 0.5 m/s² from
   standstill as the walking starts, and is walked out to a stop by the last
   step (a normal end of a session). The mobgap bouts (daily-life tests) hold
   pauses: standing or turning on the spot for 1 to 3 s with no step at all; a
   walker standing on a running belt is the hazard itself, so there the belt is
   also walked out to a stop and started again (the pauses are counted and,
   separately, run with the belt running on, where a trip is the right answer).
   Any trip is counted, whatever its rule.
2. A walker who stops stepping: real quiet standing (the still seconds before a
   mobgap bout, or at the start of a SisFall walk) spliced into real walking
   after a step (from up to 10 s of walking before it; one stop in every 8 s of walking), the belt running on at
   0.5 to 1.5 m/s and 5 km/h from 2 s into that walking. Reported per
   speed: how long after the last step the trip was decided, against 1.5 of the
   walker's own recent step periods and 0.9 s; how far the belt carried them by
   then; and the braking distance v²/2 at 1 m/s² on top.
--loso: the drift settings chosen by leave-one-subject-out over the 14 subjects
   (a small grid; each held-out subject is scored with the settings that did best
   on the other 13: no false trip first, then fewest late decisions, then the
   shortest median delay). To keep a grid affordable it drives the core's own
   drift objects (StepTracker, StepDrift) directly, tick by tick at the loop
   rate on the same vertical acceleration and belt speed, instead of the whole
   daemon; the belt at 1.0 m/s.

The reference steps, the pauses and the splices are bench-only (bench/drift_traces.py).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import multiprocessing
import os
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.drift_traces import (  # noqa: E402
    Standing,
    band_pass,
    rate_hz,
    reference_steps,
    splice_stop,
    standing_from,
    vertical_mps2,
    with_belt,
)
from monitor.config.schema import Config  # noqa: E402
from monitor.formats.trace_format import Trace  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.safety.drift import StepDrift, StepTracker  # noqa: E402
from monitor.service.sessions.replay import replay  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WALK_SPEEDS_MPS = (0.5, 0.75, 1.0, 1.25, 1.5)
STOP_SPEEDS_MPS = (0.5, 0.75, 1.0, 1.25, 1.5, 5 / 3.6)
BELT_ACCEL_MPS2 = 0.5  # the bench treadmill's motor
BRAKE_MPS2 = 1.0  # the belt's run-down once the safety-key loop opens
LEAD_S = 10.0  # walking before each stop
STOP_EVERY_S = 8.0  # one stop in every this much walking
PAUSE_S = 1.0  # a gap this long between reference steps is a pause: the walker stood (or turned on the spot)
MAX_NO_STEP_S = Config().drift.max_no_step_s
GRID = {"step_level_ratio": (0.3, 0.4, 0.5), "step_floor_mps2": (0.3, 0.35), "no_step_longest_ratio": (1.2, 1.35)}


@dataclass(frozen=True)
class Walk:
    path: str
    subject: str
    steps_s: tuple[float, ...]  # reference steps, with hindsight
    start_s: float  # when the walking starts: the belt runs from here
    end_s: float  # the last step: the belt is walked out to a stop by here
    pauses: tuple[tuple[float, float], ...]  # (last step before, first step after) of each pause
    plain_trip: str | None  # a trip in the recording as it is, without any belt column


@functools.lru_cache(maxsize=8)
def trace_at(path: str) -> Trace:
    """A recording, read once per worker (the jobs of one walk come together)."""
    return read_trace(path)


def subject_of(path: str) -> str:
    parts = Path(path).name.split("-")
    return parts[1] if parts[0] == "mobgap" else parts[2]


def find_walk(path: str) -> Walk:
    trace = read_trace(path)
    steps = reference_steps(trace)
    t0 = float(trace.t_s[0])
    reference = trace.meta.get("reference")
    if reference:  # mobgap: the reference walking bout
        start, end = t0 + reference["bout_start_s"], t0 + reference["bout_end_s"]
    else:
        start, end = float(steps[steps > t0 + 0.5][0]) - 0.2, float(steps[-1])
    inside = steps[(steps >= start - 0.5) & (steps <= end + 0.5)]
    pauses = tuple((float(a), float(b)) for a, b in zip(inside[:-1], inside[1:]) if b - a >= PAUSE_S)
    plain = replay(trace, Config())
    plain_trip = f"{plain.detail} at {plain.trip_t:.2f} s" if plain.tripped else None
    return Walk(path, subject_of(path), tuple(map(float, steps)), start, end, pauses, plain_trip)


def belt_profile(trace: Trace, speed_mps: float, runs: list[tuple[float, float]]) -> Trace:
    """A belt that speeds up at BELT_ACCEL_MPS2 from the start of each run and is
    slowed at the same rate to stop at its end: the readings every 50 ms."""
    t = trace.t_s
    speed = np.zeros(len(t))
    ramp_s = speed_mps / BELT_ACCEL_MPS2
    for a, b in runs:
        up = np.clip((t - a) * BELT_ACCEL_MPS2, 0.0, speed_mps)
        down = np.clip((b - t) * BELT_ACCEL_MPS2, 0.0, speed_mps)
        inside = (t >= a) & (t <= b)
        speed = np.where(inside, np.maximum(speed, np.minimum(up, down)), speed)
    with_column = with_belt(trace, 1.0, -np.inf, np.inf,
                            note=f" (profile: up and down at {BELT_ACCEL_MPS2:g} m/s², top {speed_mps:g} m/s, "
                                 f"ramps {ramp_s:.1f} s)")
    belt = np.where(np.isnan(with_column.belt_mps), np.nan, np.round(speed, 4))
    return Trace(trace.path, with_column.meta, t, trace.accel_mps2, trace.gyro_radps, trace.imu_ok, belt, None)


def walking_job(job: tuple[Walk, float, bool, Config]) -> dict:
    """One walk at one belt speed: the first trip, if any."""
    walk, speed, through_pauses, config = job
    trace = trace_at(walk.path)
    if through_pauses:
        runs = [(walk.start_s - 0.5, walk.end_s)]
    else:
        edges = [walk.start_s - 0.5] + [x for a, b in walk.pauses for x in (a + 0.2, b - 0.2)] + [walk.end_s]
        runs = list(zip(edges[::2], edges[1::2]))
    result = replay(belt_profile(trace, speed, runs), config)
    in_pause = result.tripped and any(a <= result.trip_t - 0.1 <= b for a, b in walk.pauses)
    return {"path": walk.path, "subject": walk.subject, "speed": speed, "through_pauses": through_pauses,
            "tripped": result.tripped, "trip_t": result.trip_t, "detail": result.detail,
            "in_pause": in_pause, "pauses": len(walk.pauses), "plain_trip": walk.plain_trip}


def quiet_standing(walks: list[Walk]) -> list[Standing]:
    """Still seconds from the recordings: before each mobgap bout, at the start of a SisFall walk."""
    pieces = []
    for walk in walks:
        trace = read_trace(walk.path)
        t0 = float(trace.t_s[0])
        first = walk.steps_s[0] if walk.steps_s else walk.start_s
        start, end = t0 + 0.3, min(walk.start_s, first) - 0.7
        if end - start < 1.5:
            continue
        keep = (trace.t_s >= start) & (trace.t_s <= end)
        z = band_pass(vertical_mps2(trace), rate_hz(trace))[keep]
        gyro = np.linalg.norm(trace.gyro_radps[keep], axis=1)
        if np.abs(z).max() < 0.5 and gyro.max() < 0.6:  # still: no step, no turn
            pieces.append(standing_from(trace, walk.subject, start, end))
    return pieces


def stop_points(walk: Walk, every_s: float = STOP_EVERY_S, walking_s: float = 5.0) -> list[tuple[float, float, float]]:
    """(cut, last step, recent step period): after a step with walking_s of steady
    walking before it, one every every_s."""
    steps = np.array(walk.steps_s)
    points = []
    next_s = walk.start_s + walking_s
    for i in range(4, len(steps) - 1):
        last = steps[i]
        if last < next_s or last > walk.end_s - 0.5:
            continue
        recent = steps[(steps > last - walking_s) & (steps <= last)]
        intervals = np.diff(recent)
        if len(intervals) < 4 or intervals.max() >= PAUSE_S or recent[0] > last - walking_s + 1.0:
            continue
        period = float(np.median(intervals[-4:]))
        points.append((float(last + 0.25 * period), float(last), period))
        next_s = last + every_s
    return points


def stop_job(job: tuple[Walk, Standing, tuple[float, float, float], float, Config]) -> dict:
    walk, standing, (cut, last, period), speed, config = job
    trace = trace_at(walk.path)
    steps = np.array(walk.steps_s)
    gaps = [b for a, b in walk.pauses if b <= cut]
    lead_s = min(LEAD_S, cut - max([float(trace.t_s[0])] + [g - 0.3 for g in gaps]))
    spliced = splice_stop(trace, standing, cut, last_step_s=last, step_period_s=period, lead_s=lead_s)
    t = spliced.t_s
    belt_on_s = max(float(t[0]), walk.start_s) + 2.0  # a belt already running under a walker already walking
    result = replay(with_belt(spliced, speed, belt_on_s, float(t[-1])), config)
    delay = None if not result.tripped else result.trip_t - last
    return {"subject": walk.subject, "path": walk.path, "speed": speed, "cut": cut, "last": last, "period": period,
            "tripped": result.tripped, "detail": result.detail, "delay": delay,
            "early": result.tripped and result.trip_t < last + 0.05, "steps_before": int((steps <= last).sum())}


def drift_only(t_s: np.ndarray, vertical: np.ndarray, belt_mps: np.ndarray, config: Config) -> float | None:
    """The first stopped-stepping trip of the core's own drift objects, ticked at
    the loop rate (the fast path for a tuning grid)."""
    d = config.drift
    start_s = float(t_s[0])
    steps = StepTracker(band_low_hz=d.step_band_low_hz, band_high_hz=d.step_band_high_hz,
                        level_tau_s=d.step_level_tau_s, level_ratio=d.step_level_ratio, floor_mps2=d.step_floor_mps2,
                        period_ratio=d.no_step_period_ratio, longest_ratio=d.no_step_longest_ratio,
                        min_no_step_s=d.min_no_step_s, max_no_step_s=d.max_no_step_s,
                        steps_to_learn=d.steps_to_learn, start_s=start_s)
    drift = StepDrift(steps, min_belt_mps=d.min_belt_mps, max_carry_m=d.max_carry_m, start_s=start_s)
    period_s = 1.0 / config.loop.rate_hz
    problems: list = []
    times, values, speeds = t_s.tolist(), vertical.tolist(), belt_mps.tolist()
    i, n, tick = 0, len(times), 1
    while i < n:
        now = start_s + tick * period_s
        while i < n and times[i] <= now:
            drift.sample(times[i], values[i])
            i += 1
        drift.check(now, speeds[i - 1], problems)
        if problems:
            return now
        tick += 1
    return None


def fast_job(job: tuple[Walk, Standing, list[dict]]) -> list[tuple[list[dict], list[dict]]]:
    """One walk under every grid point: walking at 1.0 m/s (the belt walked out in the pauses) and its stops."""
    walk, standing, grid = job
    trace = trace_at(walk.path)
    vertical = vertical_mps2(trace)
    edges = [walk.start_s - 0.5] + [x for a, b in walk.pauses for x in (a + 0.2, b - 0.2)] + [walk.end_s]
    runs = list(zip(edges[::2], edges[1::2]))
    speed = np.zeros(len(trace.t_s))
    for a, b in runs:
        inside = (trace.t_s >= a) & (trace.t_s <= b)
        ramp = np.minimum(np.clip((trace.t_s - a) * BELT_ACCEL_MPS2, 0, 1.0),
                          np.clip((b - trace.t_s) * BELT_ACCEL_MPS2, 0, 1.0))
        speed = np.where(inside, np.maximum(speed, ramp), speed)
    spliced = []
    for cut, last, period in stop_points(walk):
        gaps = [b for a, b in walk.pauses if b <= cut]
        lead_s = min(LEAD_S, cut - max([float(trace.t_s[0])] + [g - 0.3 for g in gaps]))
        one = splice_stop(trace, standing, cut, last_step_s=last, step_period_s=period, lead_s=lead_s)
        on_s = max(float(one.t_s[0]), walk.start_s) + 2.0
        spliced.append((one.t_s, vertical_mps2(one), np.where(one.t_s >= on_s, 1.0, 0.0), last, period))
    out = []
    for values in grid:
        config = with_drift(Config(), **values)
        trip = drift_only(trace.t_s, vertical, speed, config)
        walking = [{"path": walk.path, "subject": walk.subject, "speed": 1.0, "through_pauses": False,
                    "tripped": trip is not None, "trip_t": trip, "detail": "stopped_stepping", "in_pause": False,
                    "pauses": len(walk.pauses), "plain_trip": None}]
        stops = []
        for t, v, b, last, period in spliced:
            trip = drift_only(t, v, b, config)
            stops.append({"subject": walk.subject, "path": walk.path, "speed": 1.0, "last": last, "period": period,
                          "tripped": trip is not None, "detail": "stopped_stepping",
                          "delay": None if trip is None else trip - last,
                          "early": trip is not None and trip < last + 0.05})
        out.append((walking, stops))
    return out


def with_drift(config: Config, **values) -> Config:
    return replace(config, drift=replace(config.drift, **values))


def run_all(walks: list[Walk], standing: list[Standing], config: Config, pool, walk_speeds=WALK_SPEEDS_MPS,
            stop_speeds=STOP_SPEEDS_MPS, through_pauses: bool = True) -> tuple[list[dict], list[dict]]:
    walking = [(w, v, False, config) for w in walks for v in walk_speeds]
    walking += [(w, v, True, config) for w in walks if w.pauses and through_pauses for v in walk_speeds]
    stops = []
    for w in walks:
        own = [s for s in standing if s.subject == w.subject] or standing
        for k, point in enumerate(stop_points(w)):
            stops += [(w, own[k % len(own)], point, v, config) for v in stop_speeds]
    return list(pool.imap(walking_job, walking, chunksize=4)), list(pool.imap(stop_job, stops, chunksize=8))


def is_late(row: dict) -> bool:
    return row["delay"] is None or row["early"] or row["delay"] > min(MAX_NO_STEP_S, 1.5 * row["period"]) + 0.01


def false_trips(walking: list[dict]) -> list[dict]:
    """Trips while walking that the belt column caused (not in a pause with the belt running on, and not
    the same trip the recording gives without any belt column)."""
    return [r for r in walking if r["tripped"] and not (r["through_pauses"] and r["in_pause"])
            and not (r["plain_trip"] and r["plain_trip"] == f"{r['detail']} at {r['trip_t']:.2f} s")]


def print_walking(walking: list[dict]) -> None:
    print("1. Walking on a belt (any trip counts)")
    plain = sorted({(Path(r["path"]).name, r["plain_trip"]) for r in walking if r["plain_trip"]})
    for name, trip in plain:
        print(f"   without any belt column already: {name} {trip} (not the belt column's)")
    print(f"   {'belt m/s':>8} {'walks':>6} {'trips':>6}  trips the belt column caused")
    for speed in WALK_SPEEDS_MPS:
        rows = [r for r in walking if r["speed"] == speed and not r["through_pauses"]]
        bad = false_trips(rows)
        shown = ", ".join(f"{Path(r['path']).name} {r['detail']} at {r['trip_t']:.2f} s" for r in bad)
        print(f"   {speed:8.2f} {len(rows):6d} {len(bad):6d}  {shown}")
    through = [r for r in walking if r["through_pauses"]]
    if through:
        pauses = sum(r["pauses"] for r in through if r["speed"] == WALK_SPEEDS_MPS[0])
        bouts = sum(1 for r in through if r["speed"] == WALK_SPEEDS_MPS[0])
        caught = sum(1 for r in through if r["tripped"] and r["in_pause"])
        outside = sum(1 for r in through if r["tripped"] and not r["in_pause"])
        print(f"   belt running on through the pauses: {bouts} bouts with {pauses} pauses of >= {PAUSE_S:g} s; "
              f"first trip in a pause in {caught} of {len(through)} runs, outside one in {outside}")


def print_stops(stops: list[dict]) -> None:
    print("2. A walker who stops stepping (real standing spliced into real walking)")
    print(f"   {'belt':>9} {'stops':>5} {'caught':>6} {'early':>5}   decided after the last step, s")
    print(f"   {'':9} {'':5} {'':6} {'':5} {'median':>7} {'p95':>6} {'max':>6} {'<=1.5P':>7} {'<=0.9s':>7}")
    carry_rows = []
    for speed in STOP_SPEEDS_MPS:
        rows = [r for r in stops if r["speed"] == speed]
        caught = [r for r in rows if r["tripped"] and not r["early"]]
        delays = sorted(r["delay"] for r in caught)
        if not delays:
            continue
        within_p = sum(1 for r in caught if r["delay"] <= 1.5 * r["period"] + 0.01)
        within_09 = sum(1 for r in caught if r["delay"] <= MAX_NO_STEP_S + 0.01)
        label = f"{speed:.2f} m/s" if speed != 5 / 3.6 else "5 km/h"
        print(f"   {label:>9} {len(rows):5d} {len(caught):6d} {sum(r['early'] for r in rows):5d} "
              f"{statistics.median(delays):7.3f} {delays[int(0.95 * (len(delays) - 1))]:6.3f} {delays[-1]:6.3f} "
              f"{within_p:7d} {within_09:7d}")
        carried = [speed * d for d in delays]
        carry_rows.append((label, statistics.median(carried), max(carried), speed * speed / (2 * BRAKE_MPS2)))
    print("   (P: the walker's median step period over their last 4 steps; early: a trip before the stop)")
    print(f"   {'belt':>9}  carried by the decision, m  then braking, m  carried + braking, m")
    print(f"   {'':9}  {'median':>12} {'max':>6}  {'(1 m/s²)':>15}  {'at most':>20}")
    for label, median, most, brake in carry_rows:
        print(f"   {label:>9}  {median:12.2f} {most:6.2f}  {brake:15.2f}  {most + brake:20.2f}")


def loso(walks: list[Walk], standing: list[Standing], pool) -> None:
    names = list(GRID)
    grid = [dict(zip(names, values)) for values in itertools.product(*GRID.values())]
    jobs = [(w, ([s for s in standing if s.subject == w.subject] or standing)[0], grid) for w in walks]
    per_walk = list(pool.imap(fast_job, jobs))
    per_point = [(values, [r for walk in per_walk for r in walk[k][0]], [r for walk in per_walk for r in walk[k][1]])
                 for k, values in enumerate(grid)]
    for values, walking, stops in per_point:
        print(f"   {values}: false trips {len(false_trips(walking))}, stops decided late "
              f"{sum(map(is_late, stops))}/{len(stops)}")
    subjects = sorted({w.subject for w in walks})

    def score(walking, stops, keep):
        w = [r for r in walking if r["subject"] in keep]
        s = [r for r in stops if r["subject"] in keep]
        delays = [r["delay"] for r in s if r["delay"] is not None and not r["early"]]
        return len(false_trips(w)), sum(map(is_late, s)), statistics.median(delays) if delays else 9.0

    held_false = held_late = held_n = 0
    held_delays: list[float] = []
    print("   leave-one-subject-out: settings chosen on the other 13, scored on the one held out")
    for subject in subjects:
        train = set(subjects) - {subject}
        values, walking, stops = min(per_point, key=lambda p: score(p[1], p[2], train))
        f, late, _ = score(walking, stops, {subject})
        mine = [r for r in stops if r["subject"] == subject]
        held_false += f
        held_late += late
        held_n += len(mine)
        held_delays += [r["delay"] for r in mine if r["delay"] is not None and not r["early"]]
        print(f"   {subject:6} {values}: false trips {f}, late {late}/{len(mine)}")
    print(f"   held out, pooled: walks with a false trip {held_false}; stops decided late {held_late}/{held_n}; "
          f"delay after the last step median {statistics.median(held_delays):.3f} s, max {max(held_delays):.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA), help="folder holding sisfall-dev/ and mobgap-dev/")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--loso", action="store_true", help="also tune with whole subjects held out")
    parser.add_argument("--loso-only", action="store_true", help="only the leave-one-subject-out tuning")
    args = parser.parse_args(argv)
    data = Path(args.data)
    paths = sorted(data.glob("sisfall-dev/sisfall-D0[12]-*.csv.gz")) + sorted(data.glob("mobgap-dev/*.csv.gz"))
    if not paths:
        print(f"no walking recordings under {data}; give --data FOLDER", file=sys.stderr)
        return 2
    with multiprocessing.Pool(args.jobs) as pool:
        walks = list(pool.imap(find_walk, [str(p) for p in paths]))
        standing = quiet_standing(walks)
        print(f"{len(walks)} walks of {len({w.subject for w in walks})} subjects; {len(standing)} pieces of quiet "
              f"standing from {len({s.subject for s in standing})} subjects; default settings")
        if not args.loso_only:
            walking, stops = run_all(walks, standing, Config(), pool)
            print_walking(walking)
            print_stops(stops)
        if args.loso or args.loso_only:
            print("3. Tuned with whole subjects held out")
            loso(walks, standing, pool)
    return 0


if __name__ == "__main__":
    sys.exit(main())
