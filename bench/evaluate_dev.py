"""Scores fall and stumble detection on all dev recordings, by subject-wise cross-validation.

    python bench/evaluate_dev.py [--cv] [--data DIR] [--jobs N] [--list] [--set NAME=VALUE ...] [--cache DIR]

The dev data (bench/devdata.py): ../shared/data/sisfall-dev (11 young adults:
falls, stumbles, walking, jogging), sisfall-elderly-dev (4 older people walking
and jogging), mobgap-dev (2 healthy adults and a person with MS: walking bouts
with the standing before them) and movingreality-dev (4 people after a stroke:
whole treadmill trials) = 22 subjects. Every trace goes through the real replay
path (`monitor.service.sessions.replay`, as `treadguard replay`), and so do
augmented copies of all the normal gait (bench/augment.py: a 50 Hz +-8 g sensor,
an unknown tilted mount with noise and bias, 1.3 x slower walking after 8 s of
standing, left and right mirrored, 1.15 x quicker, and the recording run
backward in time), which must not trip either.

Without --cv: the default configuration and the model in the package (which
were fitted to all of this data: a check, not a result). With --cv (the
headline): for each subject, the fall model is fitted (bench/train_motion.py)
and the rules' data-driven thresholds are tuned (bench/tune_motion.py) on the
OTHER 21 subjects only, and the held-out subject's traces, recorded and
augmented, are replayed with them. Also printed: for each fold, how far below
its threshold the held-out subject's worst normal moment stayed (the margin).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import pickle
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_motion  # noqa: E402
import tune_motion  # noqa: E402

from bench.augment import VARIANTS, augment  # noqa: E402
from bench.devdata import FALLS, NORMAL  # noqa: E402
from monitor.config.schema import Config  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.safety import fall_model, stumble_model  # noqa: E402
from monitor.safety.motion import MotionDetector, MotionParams  # noqa: E402
from monitor.service.sessions.replay import build_replay  # noqa: E402


def score_one(job: tuple[str, str, MotionParams, fall_model.FallModel, stumble_model.StumbleModel]) -> dict:
    """Replay one trace (or its augmented copy) with these rules and these models."""
    path, variant, params, model, stumbles = job
    trace = read_trace(path)
    if variant:
        trace = augment(trace, variant)
    daemon = build_replay(trace, replace(Config(), motion=params))
    detector = daemon.core.motion = MotionDetector(params, model, stumbles)
    worst = worst_stumble = -math.inf
    update = detector.update

    def watched(*sample):  # the models' largest scores in this trace, for the margins
        nonlocal worst, worst_stumble
        found = update(*sample)
        if detector.model_score_logit > worst:
            worst = detector.model_score_logit
        if detector.stumble_score_logit > worst_stumble:
            worst_stumble = detector.stumble_score_logit
        return found
    detector.update = watched  # type: ignore[method-assign]
    stats = daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True, stop_on_trip=True)
    first = stats.first_trip
    problem = first.trip.problems[0] if first is not None and first.trip is not None else None
    activity, subject = train_motion.who(path)
    label = trace.meta.get("label", {})  # evaluation only: the monitor never reads it
    rule = next((k[5:] for k in (problem.values if problem else {}) if k.startswith("rule_")), None)
    return {"name": Path(path).name, "variant": variant, "activity": activity, "subject": subject,
            "duration_s": trace.duration_s, "tripped": problem is not None,
            "trip_t": first.t_s if problem else None, "reason": problem.reason if problem else None,
            "rule": rule, "impact_s": label.get("impact_s"), "worst_logit": worst,
            "threshold_logit": model.threshold_logit + params.fall_model_offset_logit,
            "worst_stumble_logit": worst_stumble,
            "stumble_threshold_logit": stumbles.threshold_logit + params.stumble_model_offset_logit}


def group_of(r: dict) -> str:
    """The activity, with older people's walking and jogging apart from young adults'."""
    activity = r["activity"] + ("-old" if r["subject"].startswith("SE") else "")
    return activity if not r["variant"] else f"{activity}#{r['variant']}"


def summarize(results: list[dict], show: bool) -> None:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        groups[group_of(r)].append(r)
    leads_all: list[float] = []
    n_falls = n_before = 0
    print(f"{'group':24} {'files':>5}  result")
    for key in sorted(groups):
        g = groups[key]
        activity = key.split("#")[0]
        if activity in FALLS:
            ok = [r for r in g if r["tripped"] and r["trip_t"] < r["impact_s"]]
            leads = sorted(r["impact_s"] - r["trip_t"] for r in ok)
            leads_all += leads
            n_falls += len(g)
            n_before += len(ok)
            by_rule = defaultdict(int)
            for r in ok:
                by_rule[r["rule"]] += 1
            text = (f"{len(ok)}/{len(g)} before impact; median lead {statistics.median(leads) * 1000:.0f} ms, "
                    f"p10 {_p10(leads) * 1000:.0f} ms; first rule: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(by_rule.items())))
            missed = [r for r in g if r not in ok]
        elif activity == "D18":
            ok = [r for r in g if r["tripped"]]
            by_rule = defaultdict(int)
            for r in ok:
                by_rule[r["rule"]] += 1
            text = f"{len(ok)}/{len(g)} tripped; first rule: " + ", ".join(f"{k} {v}" for k, v in sorted(by_rule.items()))
            missed = [r for r in g if not r["tripped"]]
        else:
            hours = sum(r["duration_s"] for r in g) / 3600
            missed = [r for r in g if r["tripped"]]
            margin = min(r["threshold_logit"] - r["worst_logit"] for r in g)
            stumble_margin = min(r["stumble_threshold_logit"] - r["worst_stumble_logit"] for r in g)
            text = (f"{len(missed)} false trip(s) in {hours:.2f} h; margins: fall model >= {margin:.2f}, "
                    f"stumble model >= {stumble_margin:.2f} logit")
        print(f"{key:24} {len(g):5d}  {text}")
        if show:
            for r in missed:
                print(f"{'':29}{r['name']}: " + (f"{r['reason']}/{r['rule']} at {r['trip_t']:.2f} s"
                                                 if r["tripped"] else "not tripped")
                      + (f" (impact {r['impact_s']:.2f} s)" if r["impact_s"] else ""))
    normal = [r for r in results if r["activity"] in NORMAL]
    false = [r for r in normal if r["tripped"]]
    stumbles = [r for r in results if r["activity"] == "D18"]
    print(f"falls: {n_before}/{n_falls} tripped before impact ({100 * n_before / max(1, n_falls):.1f} %), "
          f"median lead {statistics.median(leads_all) * 1000:.0f} ms, p10 {_p10(leads_all) * 1000:.0f} ms")
    print(f"stumbles: {sum(r['tripped'] for r in stumbles)}/{len(stumbles)} tripped "
          f"({100 * sum(r['tripped'] for r in stumbles) / max(1, len(stumbles)):.1f} %)")
    for title, chosen in (("recorded, forward", lambda r: not r["variant"]),
                          ("recorded, reversed in time", lambda r: r["variant"] == "reversed"),
                          ("other augmented copies", lambda r: r["variant"] not in ("", "reversed"))):
        part = [r for r in normal if chosen(r)]
        print(f"normal gait, {title}: {sum(r['tripped'] for r in part)} false trip(s) in "
              f"{sum(r['duration_s'] for r in part) / 3600:.2f} h")
    print(f"normal gait, all: {len(false)} false trip(s) in {sum(r['duration_s'] for r in normal) / 3600:.2f} h")


def _p10(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.1 * (len(ordered) - 1))] if ordered else float("nan")


def _training_features(paths: list[str], jobs: int, cache: Path | None) -> tuple[list, list]:
    """The fall and stumble models' gated samples and the tuning rule's features, from the cache if asked."""
    if cache is not None and (cache / "features.pickle").exists():
        with open(cache / "features.pickle", "rb") as f:
            return pickle.load(f)
    rows = train_motion.extract_all(paths, jobs)
    with multiprocessing.Pool(jobs) as pool:
        rule_rows = pool.map(tune_motion.features, tune_motion.normal_gait(paths))
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / "features.pickle", "wb") as f:
            pickle.dump((rows, rule_rows), f)
    return rows, rule_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=train_motion.DATA)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cv", action="store_true", help="subject-wise cross-validation (the headline)")
    parser.add_argument("--list", action="store_true", help="list every missed fall or stumble and false trip")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a motion setting to try instead of its default (the base of the tuning in --cv)")
    parser.add_argument("--cache", type=Path, help="keep the training features here and reuse them next time "
                        "(only while the detector's estimation and the augmentations are unchanged)")
    args = parser.parse_args()
    base = MotionParams()
    for item in args.set:
        name, _, value = item.partition("=")
        base = replace(base, **{name: type(getattr(base, name))(value)})
    paths = train_motion.dev_paths(args.data)
    if not paths:
        print(f"no dev traces in {args.data}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    variants = [(p, v) for v in VARIANTS for p in paths if train_motion.who(p)[0] in NORMAL]
    every = [(p, "") for p in paths] + variants
    if not args.cv:
        jobs = [(p, v, base, fall_model.TRAINED, stumble_model.TRAINED) for p, v in every]
    else:
        rows, rule_rows = _training_features(paths, args.jobs, args.cache)
        jobs = []
        for subject in sorted({train_motion.who(p)[1] for p in paths}):
            training = [r for r in rows if r.subject != subject]
            model = train_motion.fit(training)
            stumbles = train_motion.fit_stumble(training)
            params = tune_motion.tune([r for r in rule_rows if r["subject"] != subject], base)
            print(f"  {subject} held out: fall model threshold {model.threshold_logit:.2f}, weights "
                  + " ".join(f"{w:.2f}" for w in model.coefficients)
                  + f"; stumble model {stumbles.threshold_logit:.2f}, weights "
                  + " ".join(f"{w:.2f}" for w in stumbles.coefficients) + "; rules "
                  + ", ".join(f"{k}={getattr(params, k):g}" for k in tune_motion.TUNED))
            jobs += [(p, v, params, model, stumbles) for p, v in every if train_motion.who(p)[1] == subject]
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.map(score_one, jobs, chunksize=2)
    n_subjects = len({train_motion.who(p)[1] for p in paths})
    print((f"subject-wise cross-validation ({n_subjects} folds)" if args.cv else
           "default configuration and the packaged model (fitted to this data: a check, not a result)")
          + f", {len(results)} replays in {time.perf_counter() - start:.0f} s")
    summarize(results, args.list)
    return 0


if __name__ == "__main__":
    sys.exit(main())
