"""Scores the safety core on the SisFall recordings: falls caught before impact,
stumbles caught, false trips while walking and jogging, and replay speed.

    python bench/evaluate_sisfall.py [FOLDER] [--config FILE] [--jobs N] [--list] [--cv]

Each trace goes through `monitor.replay.replay`, the same path as
`treadguard replay`. Only this script reads the `label` ground truth.

--cv: leave-one-subject-out cross-validation. For each subject, the tuning
rule of bench/tune_motion.py (threshold = 1.25 x the largest value seen in
walking/jogging while the rule's other conditions held) is run on the OTHER
subjects' walking/jogging recordings only; the held-out subject's traces are
then replayed with those thresholds. The figures pool the held-out results.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataclasses import replace  # noqa: E402

from monitor.config.load import load_config  # noqa: E402
from monitor.config.schema import Config
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.service.sessions.replay import replay  # noqa: E402

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "sisfall-dev"
NAME = re.compile(r"sisfall-(?P<activity>[A-Z]\d\d)-(?P<subject>SA\d\d)-R(?P<trial>\d\d)")
FALLS = ("F01", "F02", "F03", "F04", "F05")
ADLS = ("D01", "D02", "D03", "D04")


def score_one(job: tuple[str, Config]) -> dict:
    path, config = job
    trace = read_trace(path)
    result = replay(trace, config)
    label = trace.meta.get("label", {})  # evaluation only: the monitor never reads it
    match = NAME.search(Path(path).name)
    return {
        "path": path, "activity": match["activity"], "subject": match["subject"],
        "samples": result.samples, "duration_s": result.duration_s,
        "tripped": result.tripped, "trip_t": result.trip_t, "reason": result.reason,
        "detail": result.detail, "impact_s": label.get("impact_s"), "peak_s": label.get("peak_s"),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(rows: list[dict]) -> dict:
    by_activity: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_activity[row["activity"]].append(row)
    summary: dict = {"activities": {}}
    all_leads = []
    falls_before = falls_total = 0
    for activity in sorted(by_activity):
        group = by_activity[activity]
        entry: dict = {"files": len(group), "tripped": sum(r["tripped"] for r in group)}
        if activity in FALLS:
            leads = [r["impact_s"] - r["trip_t"] for r in group if r["tripped"] and r["trip_t"] < r["impact_s"]]
            entry.update(before_impact=len(leads), median_lead_s=statistics.median(leads) if leads else None,
                         p10_lead_s=percentile(leads, 0.1) if leads else None,
                         missed=[Path(r["path"]).name for r in group
                                 if not (r["tripped"] and r["trip_t"] < r["impact_s"])])
            all_leads += leads
            falls_before += len(leads)
            falls_total += len(group)
        elif activity in ADLS:
            hours = sum(r["duration_s"] for r in group) / 3600
            false = [r for r in group if r["tripped"]]
            entry.update(hours=hours, false_trips=len(false), false_per_hour=len(false) / hours,
                         which=[f"{Path(r['path']).name}@{r['trip_t']}:{r['detail']}" for r in false])
        elif activity == "D18":
            entry.update(missed=[Path(r["path"]).name for r in group if not r["tripped"]])
        summary["activities"][activity] = entry
    summary["falls"] = {"before_impact": falls_before, "total": falls_total,
                        "median_lead_s": statistics.median(all_leads) if all_leads else None,
                        "p10_lead_s": percentile(all_leads, 0.1) if all_leads else None}
    return summary


def cross_validate(paths: list[str], config: Config, jobs: int) -> tuple[list[dict], list[str]]:
    """Leave-one-subject-out: tune on the others' walking/jogging, replay the one."""
    import tune_motion  # bench/, beside this file

    adl_paths = [p for p in paths if NAME.search(Path(p).name)["activity"] in ADLS]
    with multiprocessing.Pool(jobs) as pool:
        feats = pool.map(tune_motion.features, adl_paths, chunksize=1)
    subjects = sorted({NAME.search(Path(p).name)["subject"] for p in paths})
    jobs_list = []
    notes = []
    for subject in subjects:
        training = [f for f in feats if f["subject"] != subject]
        params = tune_motion.tune(training, config.motion)
        notes.append(f"{subject} held out: " + ", ".join(f"{k}={getattr(params, k):g}" for k in tune_motion.TUNED))
        fold_config = replace(config, motion=params)
        jobs_list += [(p, fold_config) for p in paths if NAME.search(Path(p).name)["subject"] == subject]
    with multiprocessing.Pool(jobs) as pool:
        rows = pool.map(score_one, jobs_list, chunksize=2)
    return rows, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--config", help="settings to evaluate (default: the built-in defaults)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--list", action="store_true", help="also list every missed or false trip")
    parser.add_argument("--cv", action="store_true",
                        help="leave-one-subject-out cross-validation of the tuning rule (bench/tune_motion.py)")
    args = parser.parse_args()
    paths = sorted(str(p) for p in Path(args.folder).glob("sisfall-*.csv*"))
    if not paths:
        print(f"no sisfall-*.csv.gz traces in {args.folder}", file=sys.stderr)
        return 1
    config = load_config(args.config) if args.config else Config()
    start = time.perf_counter()
    if args.cv:
        rows, notes = cross_validate(paths, config, args.jobs)
    else:
        with multiprocessing.Pool(args.jobs) as pool:
            rows = pool.map(score_one, [(p, config) for p in paths], chunksize=2)
    wall_s = time.perf_counter() - start
    samples = sum(r["samples"] for r in rows)
    s = summarize(rows)
    if args.cv:
        print("leave-one-subject-out cross-validation; thresholds tuned per fold on the other subjects:")
        for note in notes:
            print("  " + note)
        print(f"{len(rows)} held-out traces, {samples} samples, tuned and replayed in {wall_s:.1f} s")
    else:
        print(f"{len(rows)} traces, {samples} samples, replayed in {wall_s:.1f} s on {args.jobs} process(es): "
              f"{samples / wall_s:,.0f} samples/s")
    print(f"{'activity':8} {'files':>5} {'tripped':>7}  result")
    for activity, e in s["activities"].items():
        if activity in FALLS:
            lead = f"median lead {e['median_lead_s']*1000:.0f} ms, p10 {e['p10_lead_s']*1000:.0f} ms" \
                if e["median_lead_s"] is not None else "no lead"
            text = f"{e['before_impact']}/{e['files']} before impact; {lead}"
        elif activity in ADLS:
            text = f"{e['false_trips']} false trip(s) in {e['hours']:.2f} h = {e['false_per_hour']:.2f}/h"
        else:
            text = f"{e['tripped']}/{e['files']} tripped"
        print(f"{activity:8} {e['files']:5d} {e['tripped']:7d}  {text}")
        if args.list:
            for item in e.get("missed", []) + e.get("which", []):
                print(f"{'':24}{item}")
    f = s["falls"]
    stumbles = s["activities"].get("D18", {})
    adl_false = sum(s["activities"][a]["false_trips"] for a in ADLS if a in s["activities"])
    adl_hours = sum(s["activities"][a]["hours"] for a in ADLS if a in s["activities"])
    print(f"falls: {f['before_impact']}/{f['total']} tripped before impact "
          f"({100 * f['before_impact'] / max(1, f['total']):.1f} %), median lead "
          f"{(f['median_lead_s'] or 0) * 1000:.0f} ms, p10 {(f['p10_lead_s'] or 0) * 1000:.0f} ms")
    print(f"stumbles: {stumbles.get('tripped', 0)}/{stumbles.get('files', 0)} tripped")
    print(f"walking and jogging: {adl_false} false trip(s) in {adl_hours:.2f} h "
          f"= {adl_false / max(adl_hours, 1e-9):.2f} per hour")
    return 0


if __name__ == "__main__":
    sys.exit(main())
