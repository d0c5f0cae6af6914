"""Scores walking backwards closed loop on the simulator: turns, "start slow", progression, long walks.

    python bench/evaluate_turns.py [--seeds N] [--hours H] [--jobs N]

On the bench simulator, through the real daemon loop and safety core:

- turns: a half turn on the moving belt at 1 to 4 km/h, forward to backward and
  back, N seeds each: is the new direction followed within 2 s of the turn's
  end (TURN_S after its start), and is nothing stopped?
- too fast: a new backward walker (ceiling 0.5 m/s) runs the belt up past their
  comfortable speed; above it their balance worsens and after 10 s there they
  fall. Is the walker warned, then stopped before the fall, in every seed?
- progression: three sessions just under the ceiling (it must rise in each),
  then a session with a stumble (it must fall a step).
- long walks: forward and backward sessions of 10 minutes at 1 to 4 km/h that
  never exceed the ceiling (forward ones with session.walking auto): false
  stops per hour, and how many hours were simulated (--hours).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.safety.direction import Direction  # noqa: E402
from monitor.sim.body import TURN_S  # noqa: E402
from monitor.sim.progression import progression  # noqa: E402
from monitor.sim.run import build, run_treadguard  # noqa: E402
from monitor.sim.scenarios import NORMAL, TOO_FAST, TURN, Scenario  # noqa: E402

SPEEDS_KMH = (1.0, 2.0, 3.0, 4.0)
FOLLOW_S = 2.0
TURN_AT_S = 20.0


def _run(scenario: Scenario) -> tuple:
    kept: dict = {}
    outcome = run_treadguard(build(scenario), on_tick=lambda v, core: kept.setdefault("core", core))
    return outcome, kept["core"]


def turn(job: tuple[str, float, int]) -> dict:
    walking, kmh, seed = job
    scenario = Scenario(f"turn-{walking}-{kmh:g}kmh-s{seed}", "half turn", TURN, walking=walking, speed_kmh=kmh,
                        turns_s=(TURN_AT_S,), duration_s=TURN_AT_S + 20.0, seed=10_000 + 97 * seed + int(kmh))
    outcome, core = _run(scenario)
    want = Direction.BACKWARD if walking == "forward" else Direction.FORWARD
    after = [c for c in core.direction.changes if c.t_s >= TURN_AT_S and c.direction is want]
    lag = after[0].t_s - (TURN_AT_S + TURN_S) if after else None
    return {"walking": walking, "kmh": kmh, "lag_s": lag, "tripped": outcome.tripped,
            "final": core.direction.state.value}


def too_fast(job: tuple[float, float, int]) -> dict:
    comfortable, top, seed = job
    scenario = Scenario(f"too-fast-{comfortable:g}-{top:g}-s{seed}", "too fast", TOO_FAST, walking="backward",
                        profile_kmh=((0.0, 0.0), (5.0, top), (60.0, top)), duration_s=40.0, ceiling_mps=0.5,
                        comfortable_kmh=comfortable, seed=20_000 + 31 * seed + int(10 * top))
    built = build(scenario)
    kept: dict = {}
    outcome = run_treadguard(built, on_tick=lambda v, core: kept.setdefault("core", core))
    warned = [e.t_s for e in kept["core"].ceiling_log if e.kind.value == "warned"]
    trip_s = None if outcome.trip_s is None else outcome.trip_s + built.fall_onset_s
    return {"comfortable": comfortable, "top": top, "warned_s": warned[0] if warned else None, "trip_s": trip_s,
            "reason": outcome.reason or "", "fall_onset_s": built.fall_onset_s}


def long_walk(job: tuple[str, float, int]) -> dict:
    walking, kmh, seed = job
    scenario = Scenario(f"long-{walking}-{kmh:g}-s{seed}", "long walk", NORMAL, walking=walking, speed_kmh=kmh,
                        duration_s=600.0, seed=30_000 + 53 * seed + int(kmh * 10), range_sensor=seed % 2 == 0)
    outcome, core = _run(scenario)
    return {"walking": walking, "kmh": kmh, "tripped": outcome.tripped, "reason": outcome.reason,
            "hours": 600.0 / 3600, "bwd_reported": sum(c.direction is Direction.BACKWARD for c in core.direction.changes)
            if walking == "auto" else 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--hours", type=float, default=2.0, help="hours of long walks to simulate")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    with multiprocessing.Pool(args.jobs) as pool:
        turns = pool.map(turn, [(w, k, s) for w in ("forward", "backward") for k in SPEEDS_KMH
                                for s in range(args.seeds)], chunksize=1)
        fast = pool.map(too_fast, [(c, top, s) for c in (1.8, 2.2, 2.9) for top in (3.0, 4.0, 5.0)
                                   for s in range(max(1, args.seeds // 3))], chunksize=1)
        n_long = max(2, int(round(args.hours * 6)))
        kinds = [("auto", k) for k in SPEEDS_KMH] + [("backward", k) for k in SPEEDS_KMH]
        longs = pool.map(long_walk, [(*kinds[i % len(kinds)], i // len(kinds)) for i in range(n_long)],
                         chunksize=1)
        sessions = pool.starmap(_progression, [(s,) for s in range(3)])
    print(f"simulated in {time.perf_counter() - start:.0f} s")
    followed = [r for r in turns if r["lag_s"] is not None and r["lag_s"] <= FOLLOW_S]
    print(f"turns on a moving belt: {len(followed)}/{len(turns)} followed within {FOLLOW_S:g} s of the turn's end "
          f"({100 * len(followed) / len(turns):.1f} %); worst lag "
          f"{max((r['lag_s'] for r in turns if r['lag_s'] is not None), default=float('nan')):.2f} s; "
          f"stopped: {sum(r['tripped'] for r in turns)}")
    for w in ("forward", "backward"):
        for k in SPEEDS_KMH:
            group = [r for r in turns if r["walking"] == w and r["kmh"] == k]
            ok = [r for r in group if r["lag_s"] is not None and r["lag_s"] <= FOLLOW_S]
            print(f"  from {w:8} at {k:g} km/h: {len(ok)}/{len(group)}, lags "
                  + ", ".join("-" if r["lag_s"] is None else f"{r['lag_s']:.2f}" for r in group[:6]))
    ok = [r for r in fast if r["warned_s"] is not None and r["trip_s"] is not None
          and r["warned_s"] < r["trip_s"] < r["fall_onset_s"] and r["reason"].startswith("backward_ceiling")]
    print(f"too fast: {len(ok)}/{len(fast)} warned, then stopped (backward_ceiling) before the fall's onset; "
          f"least lead {min((r['fall_onset_s'] - r['trip_s'] for r in fast if r['trip_s']), default=float('nan')):.1f} s")
    for r in fast:
        if r not in ok:
            print(f"  NOT SAFE: {r}")
    hours = sum(r["hours"] for r in longs)
    false = [r for r in longs if r["tripped"]]
    print(f"long walks: {len(false)} false stop(s) in {hours:.2f} h of simulated walking "
          f"({sum(r['walking'] == 'auto' for r in longs)} forward with walking auto, "
          f"{sum(r['walking'] == 'backward' for r in longs)} backward); forward walks ever reported backward: "
          f"{sum(r['bwd_reported'] > 0 for r in longs)}"
          + (f"; {', '.join(str(r['reason']) for r in false)}" if false else ""))
    for s, results in enumerate(sessions):
        print(f"progression, seed {s}: " + "; ".join(
            f"session {r.number} {r.start_mps:.2f} -> {r.end_mps:.2f} m/s" + (" (stumble)" if r.tripped else "")
            for r in results))
    return 0


def _progression(seed: int):
    return progression(4, start_mps=0.5, stumble_in=4, seed=seed)


if __name__ == "__main__":
    sys.exit(main())
