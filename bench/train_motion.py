"""Rebuilds the learned fall model from the dev recordings and writes it into the package.

    python bench/train_motion.py [--data DIR] [--jobs N] [--check]

One command, deterministic (sorted inputs, no random draws but the augmentations'
fixed seeds): it runs the real `MotionDetector` over every dev trace
(../shared/data/sisfall-dev and mobgap-dev) and over augmented copies of the
normal walking (bench/augment.py), keeps the samples that pass the model's gate,
fits a non-negative L2 logistic regression (Newton's method, numpy; a 6-weight
model needs no scikit-learn), sets the threshold to the largest score seen in
normal gait plus MARGIN_LOGIT, and writes monitor/safety/fall_model_trained.py
and tests/data/fall_model_check.csv (rows on which the test checks that the
exported model decides exactly as the fitted one). `--check` fits and prints,
writing nothing.

What is positive and what is negative (the labels are read only here):
  positive  samples of a fall trace within POSITIVE_WINDOW_S before its impact_s
  negative  every sample of walking and jogging (D01-D04), of the mobgap bouts,
            of their augmented copies, and of fall and stumble traces up to
            NEGATIVE_GUARD_S before the event (the walking before it)
Samples between are not used: their class is unknown.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.augment import VARIANTS, augment  # noqa: E402
from monitor.formats.trace_format import Trace  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.safety import fall_model  # noqa: E402
from monitor.safety import mount as mount_
from monitor.safety.motion import MotionDetector, MotionParams  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "monitor" / "safety" / "fall_model_trained.py"
CHECK_ROWS = ROOT / "tests" / "data" / "fall_model_check.csv"
NAME = re.compile(r"sisfall-(?P<activity>[A-Z]\d\d)-(?P<subject>SA\d\d)-R\d\d|mobgap-(?P<person>[A-Z]{2}\d{3})-")
NORMAL = ("D01", "D02", "D03", "D04", "MOB")

POSITIVE_WINDOW_S = 0.4  # the last 0.4 s before impact: where a trip still helps
NEGATIVE_GUARD_S = 1.5  # before the event minus this, a fall or stumble trace is walking
MARGIN_LOGIT = 1.5  # threshold above the worst normal moment: ~30 % more descent or tilt
L2 = 1.0  # ridge on the standardised weights
GATE_DESCENT_MPS = 0.4  # the model is judged only while the waist goes down faster than this
GATE_TILT_RAD = 0.1  # ...and the trunk is off its upright by more than this
GAIT_FLOOR_MPS = 0.2  # a gait level below this is standing or shuffling: no finer normalisation


def dev_paths(data: Path = DATA) -> list[str]:
    return sorted(str(p) for p in (data / "sisfall-dev").glob("sisfall-*.csv.gz")) + \
        sorted(str(p) for p in (data / "mobgap-dev").glob("mobgap-*.csv.gz"))


def who(path: str) -> tuple[str, str]:
    """(activity, subject) from a dev trace's name; mobgap bouts are activity MOB."""
    m = NAME.search(Path(path).name.split("#")[0])
    if m is None:
        raise ValueError(f"not a dev trace name: {path}")
    return (m["activity"], m["subject"]) if m["activity"] else ("MOB", m["person"])


def gate_model(model: fall_model.FallModel | None = None) -> fall_model.FallModel:
    """The model's constants with this script's gate (weights unused while extracting)."""
    return fall_model.FallModel(0.0, (0.0,) * len(fall_model.FEATURES), math.inf,
                                GATE_DESCENT_MPS, GATE_TILT_RAD, GAIT_FLOOR_MPS)


def _treadmill_rows(trace: Trace) -> list[list[float]]:
    """t and the IMU in the treadmill frame, as the safety core rotates them."""
    ok = trace.imu_ok
    samples = np.column_stack([trace.t_s, trace.accel_mps2, trace.gyro_radps])[ok]
    m = trace.imu_mount
    r = mount_.from_matrix(m.tolist()) if m is not None else mount_.from_gravity(*samples[0, 1:4])
    rot = np.array(r).reshape(3, 3)
    return np.column_stack([samples[:, 0], samples[:, 1:4] @ rot.T, samples[:, 4:7] @ rot.T]).tolist()


def gated_features(trace: Trace, params: MotionParams = MotionParams()) -> tuple[np.ndarray, np.ndarray]:
    """(times, inputs) of the samples where the model would be judged, from the real detector."""
    model = gate_model()
    d = MotionDetector(params, model)
    warmup = params.warmup_s
    times, rows = [], []
    for row in _treadmill_rows(trace):
        d.update(*row)
        down, tilt = -d.v_mps, d.tilt_rad
        if d._age_s >= warmup and fall_model.is_gated(model, down, tilt):
            times.append(row[0])
            rows.append(fall_model.features(model, down, math.sqrt(d.gait_ms), tilt, d.w_radps,
                                            d.rate_level_radps, d.jolt_ratio_held))
    return np.array(times), np.array(rows).reshape(-1, len(fall_model.FEATURES))


@dataclass
class Rows:
    """One trace's gated samples and what they are."""
    name: str
    activity: str
    subject: str
    variant: str
    times: np.ndarray
    x: np.ndarray
    y: np.ndarray  # 1 positive, 0 negative, -1 unused


def extract(job: tuple[str, str]) -> Rows:
    path, variant = job
    trace = read_trace(path)
    if variant:
        trace = augment(trace, variant)
    activity, subject = who(path)
    times, x = gated_features(trace)
    label = trace.meta.get("label", {})
    y = np.zeros(len(times))
    if activity.startswith("F"):
        impact = label["impact_s"]
        y[:] = -1
        y[times < impact - NEGATIVE_GUARD_S] = 0
        y[(times >= impact - POSITIVE_WINDOW_S) & (times < impact)] = 1
    elif activity == "D18":
        y[:] = -1
        y[times < label["peak_s"] - NEGATIVE_GUARD_S] = 0
    return Rows(Path(path).name, activity, subject, variant, times, x, y)


def jobs_for(paths: list[str]) -> list[tuple[str, str]]:
    jobs = [(p, "") for p in paths]
    jobs += [(p, v) for v in VARIANTS for p in paths if who(p)[0] in NORMAL]
    return jobs


def extract_all(paths: list[str], jobs: int) -> list[Rows]:
    with multiprocessing.Pool(jobs) as pool:
        return pool.map(extract, jobs_for(paths), chunksize=1)


def _logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """Class-balanced L2 logistic regression by Newton's method, in raw units."""
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd])
    weight = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1.0 - y.mean()))
    ridge = l2 * np.diag(np.r_[0.0, np.ones(z.shape[1] - 1)])
    b = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ b)))
        step = np.linalg.solve((z * (weight * p * (1 - p))[:, None]).T @ z + ridge,
                               z.T @ (weight * (p - y)) + ridge @ b)
        b -= step
        if np.abs(step).max() < 1e-10:
            break
    coef = b[1:] / sd
    return float(b[0] - (b[1:] * mu / sd).sum()), coef


def fit(rows: list[Rows]) -> fall_model.FallModel:
    """The model from these rows (the training subjects' only): non-negative weights
    (a weight that comes out negative is dropped and the rest refitted), threshold at
    the largest normal score plus MARGIN_LOGIT."""
    x = np.vstack([r.x for r in rows])
    y = np.concatenate([r.y for r in rows])
    x, y = x[y >= 0], y[y >= 0]
    keep = list(range(x.shape[1]))
    while True:
        intercept, coef = _logistic(x[:, keep], y, L2)
        if (coef >= 0).all():
            break
        keep.pop(int(np.argmin(coef)))
    weights = np.zeros(x.shape[1])
    weights[keep] = coef
    model = fall_model.FallModel(intercept, tuple(float(w) for w in weights), 0.0,
                                 GATE_DESCENT_MPS, GATE_TILT_RAD, GAIT_FLOOR_MPS)
    worst = max(float(np.max(scores(model, r.x)[r.y == 0], initial=-np.inf)) for r in rows)
    return fall_model.FallModel(model.intercept, model.coefficients, worst + MARGIN_LOGIT,
                                GATE_DESCENT_MPS, GATE_TILT_RAD, GAIT_FLOOR_MPS)


def scores(model: fall_model.FallModel, x: np.ndarray) -> np.ndarray:
    return model.intercept + x @ np.array(model.coefficients)


def worst_normal(model: fall_model.FallModel, rows: list[Rows]) -> tuple[float, str]:
    best = (-math.inf, "")
    for r in rows:
        s = scores(model, r.x)
        s = np.where(r.y == 0, s, -np.inf)
        if len(s) and s.max() > best[0]:
            i = int(np.argmax(s))
            best = (float(s[i]), f"{r.name}{'#' + r.variant if r.variant else ''}@{r.times[i]:.2f}s")
    return best


def export(model: fall_model.FallModel, rows: list[Rows]) -> str:
    n_pos = int(sum((r.y == 1).sum() for r in rows))
    n_neg = int(sum((r.y == 0).sum() for r in rows))
    subjects = sorted({r.subject for r in rows})
    lines = [
        '"""The fall model\'s fitted numbers, written by bench/train_motion.py: do not edit by hand."""',
        f"# fitted on {len(subjects)} subjects ({', '.join(subjects)}): {n_pos} positive and {n_neg} normal",
        f"# gated samples; threshold = the largest normal score + {MARGIN_LOGIT} (log-odds)",
        f"INTERCEPT = {model.intercept!r}",
        "COEFFICIENTS = (" + ", ".join(repr(w) for w in model.coefficients) + ",)",
        f"THRESHOLD_LOGIT = {model.threshold_logit!r}",
        f"GATE_DESCENT_MPS = {GATE_DESCENT_MPS!r}",
        f"GATE_TILT_RAD = {GATE_TILT_RAD!r}",
        f"GAIT_FLOOR_MPS = {GAIT_FLOOR_MPS!r}",
    ]
    return "\n".join(lines) + "\n"


def check_rows(model: fall_model.FallModel, rows: list[Rows], n: int = 40) -> str:
    """The closest normal rows, positives around the threshold, and a spread: the
    inputs and the fitted (numpy) score, for the test of the exported model."""
    x = np.vstack([r.x for r in rows])
    y = np.concatenate([r.y for r in rows])
    s = scores(model, x)
    picks = set(np.argsort(-np.where(y == 0, s, -np.inf))[:n].tolist())
    picks |= set(np.argsort(np.abs(np.where(y == 1, s, np.inf) - model.threshold_logit))[:n].tolist())
    picks |= set(range(0, len(x), max(1, len(x) // n)))
    out = [",".join(fall_model.FEATURES + ("fitted_score_logit", "trips"))]
    for i in sorted(picks):
        out.append(",".join(repr(float(v)) for v in x[i]) + f",{float(s[i])!r},{int(s[i] > model.threshold_logit)}")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding sisfall-dev/ and mobgap-dev/")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--check", action="store_true", help="fit and print; write nothing")
    args = parser.parse_args()
    paths = dev_paths(args.data)
    if not paths:
        print(f"no dev traces in {args.data}/sisfall-dev or mobgap-dev", file=sys.stderr)
        return 1
    rows = extract_all(paths, args.jobs)
    model = fit(rows)
    value, where = worst_normal(model, rows)
    print(f"{len(rows)} traces ({len(paths)} recorded, the rest augmented), "
          f"{sum(len(r.times) for r in rows)} gated samples")
    for name, w in zip(fall_model.FEATURES, model.coefficients):
        print(f"  {name:22} {w:9.4f}")
    print(f"  intercept              {model.intercept:9.4f}")
    print(f"threshold {model.threshold_logit:.4f} = worst normal {value:.4f} ({where}) + {MARGIN_LOGIT}")
    if not args.check:
        OUT.write_text(export(model, rows))
        CHECK_ROWS.parent.mkdir(exist_ok=True)
        CHECK_ROWS.write_text(check_rows(model, rows))
        print(f"wrote {OUT.relative_to(ROOT)} and {CHECK_ROWS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
