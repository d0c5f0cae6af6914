"""Scores fall and stumble detection on walkers walking backwards, from the simulator.

    python bench/evaluate_backward.py [--forward] [--seeds N]

There are no real recordings of people walking backwards on a treadmill, so
this uses the bench simulator: falls (toward the rear, toward the console,
sideways, after a slip), stumbles, and long backward-walking sessions, at 1 to
6 km/h, several seeds each. Each is exported as a trace and replayed through
`monitor.replay` with the IMU alone (belt and range columns dropped), so the
figures are the motion detector's, comparable with bench/evaluate_sisfall.py.
`--forward` runs the same set walking forward, for comparison.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.schema import Config  # noqa: E402
from monitor.formats.trace_format import Trace  # noqa: E402
from monitor.service.sessions.replay import replay  # noqa: E402
from monitor.sim.run import to_trace  # noqa: E402
from monitor.sim.scenarios import NORMAL, Scenario  # noqa: E402

FALLS = ("fall_forward", "fall_backward", "fall_sideways", "slip", "trip")
SPEEDS_KMH = (1.0, 2.0, 3.0, 4.0)
STUMBLE_SPEEDS_KMH = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
SESSION_SPEEDS_KMH = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)


def scenarios(walking: str, seeds: int) -> list[Scenario]:
    out = []
    for seed in range(seeds):
        for kmh in SPEEDS_KMH:
            for event in FALLS:
                out.append(Scenario(f"{event}-{kmh:g}kmh-s{seed}", event, event, walking=walking,
                                    speed_kmh=kmh, onset_s=15.0, duration_s=20.0, seed=1000 * seed + int(kmh * 10)))
        for kmh in STUMBLE_SPEEDS_KMH:
            out.append(Scenario(f"stumble-{kmh:g}kmh-s{seed}", "stumble", "stumble", walking=walking,
                                speed_kmh=kmh, onset_s=15.0, duration_s=20.0, seed=2000 * seed + int(kmh * 10)))
    for kmh in SESSION_SPEEDS_KMH:
        out.append(Scenario(f"walk-{kmh:g}kmh", "walking", NORMAL, walking=walking, speed_kmh=kmh,
                            duration_s=300.0, seed=int(kmh * 100)))
    return out


def score(scenario: Scenario) -> dict:
    trace = to_trace(scenario, scenario.name)
    imu_only = Trace(trace.path, {k: v for k, v in trace.meta.items() if k != "rear_edge_m"},
                     trace.t_s, trace.accel_mps2, trace.gyro_radps, trace.imu_ok)
    result = replay(imu_only, Config())
    label = trace.meta["label"]  # evaluation only
    return {"name": scenario.name, "event": scenario.event, "tripped": result.tripped, "trip_t": result.trip_t,
            "reason": result.reason, "onset_s": label.get("onset_s"), "impact_s": label.get("impact_s"),
            "hours": trace.duration_s / 3600}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forward", action="store_true", help="walkers facing the console instead")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    walking = "forward" if args.forward else "backward"
    start = time.perf_counter()
    with multiprocessing.Pool() as pool:
        rows = pool.map(score, scenarios(walking, args.seeds), chunksize=1)
    falls = [r for r in rows if r["event"] in FALLS]
    before = [r for r in falls if r["tripped"] and r["trip_t"] < r["impact_s"]]
    leads = sorted(r["impact_s"] - r["trip_t"] for r in before)
    stumbles = [r for r in rows if r["event"] == "stumble"]
    sessions = [r for r in rows if r["event"] == NORMAL]
    hours = sum(r["hours"] for r in sessions)
    false = [r for r in sessions if r["tripped"]]
    print(f"walking {walking}, simulated, IMU only, {len(rows)} traces in {time.perf_counter() - start:.1f} s")
    for event in FALLS:
        group = [r for r in falls if r["event"] == event]
        ok = [r for r in group if r["tripped"] and r["trip_t"] < r["impact_s"]]
        lead = statistics.median(r["impact_s"] - r["trip_t"] for r in ok) if ok else float("nan")
        print(f"  {event:14} {len(ok)}/{len(group)} before impact, median lead {lead * 1000:.0f} ms")
    p10 = leads[max(0, int(0.1 * (len(leads) - 1)))] if leads else float("nan")
    print(f"falls: {len(before)}/{len(falls)} tripped before impact ({100 * len(before) / len(falls):.1f} %), "
          f"median lead {statistics.median(leads) * 1000:.0f} ms, p10 {p10 * 1000:.0f} ms")
    print(f"stumbles: {sum(r['tripped'] for r in stumbles)}/{len(stumbles)} tripped; missed: "
          + (", ".join(r["name"] for r in stumbles if not r["tripped"]) or "none"))
    print(f"walking sessions: {len(false)} false trip(s) in {hours:.2f} h = {len(false) / hours:.2f} per hour"
          + (f" ({', '.join(r['name'] + '@' + str(r['trip_t']) for r in false)})" if false else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
