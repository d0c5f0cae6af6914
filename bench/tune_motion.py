"""Sets the data-driven thresholds of the fall / stumble detector by one
stated rule, from walking and jogging recordings only.

    python bench/tune_motion.py [FOLDER] [--margin 1.25] [--jobs N]

The rule (docs/detection.md): every rule of `monitor.motion.classify` has
physical anchors (velocities, rates: chosen from physics, not from data) and
one threshold set from data:

    threshold = margin x (largest value of that feature seen in the walking
                and jogging recordings, at samples where the rule's other
                conditions held)

    fall_drop_tilt_rad        tilt,            where -v > fall_drop_velocity_mps
    fall_topple_tilt_rad      tilt,            where -v > fall_topple_velocity_mps,
                                               w > fall_topple_rate_radps, not uprighting
    stumble_velocity_ratio    -v / gait RMS,   where -v > stumble_velocity_mps,
                                               w > stumble_rate_radps
    stumble_jolt_score_ratio  jolt score,      where -v > stumble_jolt_descent_ratio x gait RMS

with margin 1.25, so each of these thresholds sits 25 % above the worst
moment of normal gait seen in training. Falls and stumbles are never looked
at here: they are only used to *report* (bench/evaluate_sisfall.py), and in
cross-validation this rule runs on the training subjects only.

The features come from the real `MotionDetector` (its state after each
sample), fed through the trace's mount exactly as the safety core does; its
estimation settings stay at the defaults.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.augment import augment  # noqa: E402
from bench.devdata import DATA, NORMAL, dev_paths, who  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.safety import mount as mount_  # noqa: E402
from monitor.safety.motion import MotionDetector, MotionParams  # noqa: E402

ADLS = NORMAL  # walking, jogging, the mobgap bouts (MOB) and the treadmill trials (TRD)
MARGIN = 1.25
TUNED = ("fall_drop_tilt_rad", "fall_topple_tilt_rad", "stumble_velocity_ratio", "stumble_jolt_score_ratio")
COLUMNS = ("age_s", "tilt_rad", "down_mps", "rate_radps", "gait_rms_mps", "incl_change_rad", "jolt_score_ratio")


def features(path: str, params: MotionParams = MotionParams()) -> dict:
    """Per-sample features of one trace as the detector sees them (decision
    thresholds play no part in them). A path ending in '#reversed' is the
    recording run backward in time (bench/augment.py)."""
    path, _, variant = path.partition("#")
    trace = read_trace(path)
    if variant:
        trace = augment(trace, variant)
    mount = trace.imu_mount.tolist() if trace.imu_mount is not None else None
    samples = np.column_stack([trace.t_s, trace.accel_mps2, trace.gyro_radps])
    samples = samples[~np.isnan(samples).any(axis=1)]
    r = mount_.from_matrix(mount) if mount else mount_.from_gravity(*samples[0, 1:4])
    R = np.array(r).reshape(3, 3)
    acc = samples[:, 1:4] @ R.T
    gyr = samples[:, 4:7] @ R.T
    rows = np.column_stack([samples[:, 0], acc, gyr]).tolist()
    d = MotionDetector(params)
    out = np.empty((len(rows), len(COLUMNS)), dtype=np.float64)
    update = d.update
    acos = math.acos
    for i, row in enumerate(rows):
        update(*row)
        uz = max(-1.0, min(1.0, d.uz))
        rz = max(-1.0, min(1.0, d.rz))
        out[i] = (d._age_s, d.tilt_rad, -d.v_mps, d.w_radps, math.sqrt(d.gait_ms),
                  acos(uz) - acos(rz), d.jolt_score)
    activity, subject = who(path)
    return {"path": path + ("#" + variant if variant else ""), "activity": activity, "subject": subject, "f": out}


def normal_gait(paths: list[str], reversed_too: bool = False) -> list[str]:
    """The walking and jogging recordings the rule looks at (and, if asked, the same run backward in time)."""
    normal = [p for p in paths if who(p)[0] in ADLS]
    return normal + ([p + "#reversed" for p in normal] if reversed_too else [])


def conditional_maxima(rows: list[dict], p: MotionParams) -> dict[str, tuple[float, str]]:
    """For each tuned threshold: the largest value of its feature in the
    walking/jogging rows where the rule's other conditions held, and where."""
    best: dict[str, tuple[float, str]] = {k: (0.0, "") for k in TUNED}
    for row in rows:
        if row["activity"] not in ADLS:
            continue
        f = row["f"]
        ok = f[:, 0] >= p.warmup_s
        age, tilt, down, w, grms, incl, score = (f[:, k] for k in range(len(COLUMNS)))
        where = Path(row["path"]).name
        candidates = {
            "fall_drop_tilt_rad": (tilt, ok & (down > p.fall_drop_velocity_mps)),
            "fall_topple_tilt_rad": (tilt, ok & (down > p.fall_topple_velocity_mps)
                                     & (w > p.fall_topple_rate_radps)
                                     & (incl > -p.fall_topple_uprighting_rad)),
            "stumble_velocity_ratio": (down / np.maximum(grms, 1e-9),
                                       ok & (down > p.stumble_velocity_mps) & (w > p.stumble_rate_radps)),
            "stumble_jolt_score_ratio": (score, ok & (down > p.stumble_jolt_descent_ratio * grms)),
        }
        for key, (value, mask) in candidates.items():
            if mask.any():
                i = int(np.argmax(np.where(mask, value, -np.inf)))
                if value[i] > best[key][0]:
                    best[key] = (float(value[i]), f"{where}@{age[i]:.2f}s")
    return best


def margins(rows: list[dict], p: MotionParams) -> dict[str, tuple[float, str]]:
    """For every decision threshold: how far (fraction of its value) it can be
    lowered, the others held, before some walking/jogging sample trips that
    rule; and where the closest sample is."""
    rules = {  # threshold: (rule's other conditions -> mask, feature)
        "fall_drop_velocity_mps": lambda t, d, w, g, i, s: (t > p.fall_drop_tilt_rad, d),
        "fall_drop_tilt_rad": lambda t, d, w, g, i, s: (d > p.fall_drop_velocity_mps, t),
        "fall_topple_tilt_rad": lambda t, d, w, g, i, s: (
            (w > p.fall_topple_rate_radps) & (d > p.fall_topple_velocity_mps) & (i > -p.fall_topple_uprighting_rad), t),
        "fall_topple_rate_radps": lambda t, d, w, g, i, s: (
            (t > p.fall_topple_tilt_rad) & (d > p.fall_topple_velocity_mps) & (i > -p.fall_topple_uprighting_rad), w),
        "fall_topple_velocity_mps": lambda t, d, w, g, i, s: (
            (t > p.fall_topple_tilt_rad) & (w > p.fall_topple_rate_radps) & (i > -p.fall_topple_uprighting_rad), d),
        "stumble_velocity_mps": lambda t, d, w, g, i, s: (
            (w > p.stumble_rate_radps) & (d > p.stumble_velocity_ratio * g), d),
        "stumble_rate_radps": lambda t, d, w, g, i, s: (
            (d > p.stumble_velocity_mps) & (d > p.stumble_velocity_ratio * g), w),
        "stumble_velocity_ratio": lambda t, d, w, g, i, s: (
            (d > p.stumble_velocity_mps) & (w > p.stumble_rate_radps), d / np.maximum(g, 1e-9)),
        "stumble_jolt_score_ratio": lambda t, d, w, g, i, s: (d > p.stumble_jolt_descent_ratio * g, s),
    }
    best: dict[str, tuple[float, str]] = {k: (-np.inf, "") for k in rules}
    for row in rows:
        if row["activity"] not in ADLS:
            continue
        f = row["f"]
        ok = f[:, 0] >= p.warmup_s
        for key, rule in rules.items():
            mask, value = rule(*(f[:, k] for k in range(1, len(COLUMNS))))
            mask = mask & ok
            if mask.any():
                i = int(np.argmax(np.where(mask, value, -np.inf)))
                if value[i] > best[key][0]:
                    best[key] = (float(value[i]), f"{Path(row['path']).name}@{f[i, 0]:.2f}s")
    return {k: ((1.0 - v / getattr(p, k)) if np.isfinite(v) else 1.0, where) for k, (v, where) in best.items()}


def tune(rows: list[dict], base: MotionParams = MotionParams(), margin: float = MARGIN) -> MotionParams:
    """The rule: each tuned threshold = margin x its conditional maximum over
    the walking/jogging rows given (the training subjects' only)."""
    best = conditional_maxima(rows, base)
    return replace(base, **{k: round(margin * v, 3) for k, (v, _) in best.items()})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DATA))
    parser.add_argument("--margin", type=float, default=MARGIN)
    parser.add_argument("--reversed", action="store_true",
                        help="also look at the recordings run backward in time (the margins then cover both)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    folder = Path(args.folder)
    paths = normal_gait(dev_paths(folder), args.reversed)
    if not paths:
        print(f"no walking/jogging traces in {args.folder}", file=sys.stderr)
        return 1
    with multiprocessing.Pool(args.jobs) as pool:
        rows = pool.map(features, paths)
    base = MotionParams()
    best = conditional_maxima(rows, base)
    print(f"{len(rows)} walking/jogging traces; threshold = {args.margin} x conditional maximum")
    for key, (value, where) in best.items():
        print(f"{key:26} max {value:7.3f} at {where:34} -> {args.margin * value:7.3f}"
              f"   (default now {getattr(base, key)})")
    print("\nmargins at the current defaults: how far each threshold can be lowered (others held)"
          " before a walking/jogging sample trips its rule")
    for key, (margin, where) in margins(rows, base).items():
        text = "never (no sample meets the other conditions)" if not where else f"{100 * margin:5.1f} %  closest: {where}"
        print(f"  {key:26} {getattr(base, key):7g}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
