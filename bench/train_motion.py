"""Rebuilds the learned fall and stumble models from the dev recordings and writes them into the package.

    python bench/train_motion.py [--data DIR] [--jobs N] [--check] [--cache DIR]

One command, deterministic (sorted inputs, no random draws but the augmentations'
fixed seeds): it runs the real `MotionDetector` over every dev trace
(bench/devdata.py: sisfall-dev, sisfall-elderly-dev, mobgap-dev,
movingreality-dev) and over augmented copies of the normal gait
(bench/augment.py), keeps the samples that pass each model's gate, fits a
non-negative L2 logistic regression per model (Newton's method, numpy; a
6-weight model needs no scikit-learn), sets each threshold to the largest score
seen in normal gait plus its margin, and writes
monitor/safety/fall_model_trained.py, monitor/safety/stumble_model_trained.py
and the check rows tests/data/fall_model_check.csv and
tests/data/stumble_model_check.csv (rows on which the tests check that the
exported models decide exactly as the fitted ones). `--check` fits and prints,
writing nothing.

What is positive and what is negative (the labels are read only here):
  fall positive     samples of a fall trace within POSITIVE_WINDOW_S before its impact_s
  stumble positive  samples of a stumble trace (D18) within STUMBLE_WINDOW_S of its peak_s
  negative (both)   every sample of the normal gait (walking, jogging, the mobgap
                    bouts, the treadmill trials), of their augmented copies, and of
                    fall and stumble traces up to NEGATIVE_GUARD_S before the event
Falls and stumbles count also as a 50 Hz +-8 g sensor and a mirrored 100 Hz one
would record them (SENSOR_VARIANTS).
Samples between are not used: their class is unknown (a fall's first stumble
is neither a stumble to learn nor normal gait).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.augment import VARIANTS, augment  # noqa: E402
from bench.devdata import DATA, NORMAL, dev_paths, who  # noqa: E402,F401  (re-exported for the other scripts)
from monitor.formats.trace_format import Trace  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.safety import fall_model, stumble_model  # noqa: E402
from monitor.safety import mount as mount_  # noqa: E402
from monitor.safety.motion import MotionDetector, MotionParams  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "monitor" / "safety" / "fall_model_trained.py"
CHECK_ROWS = ROOT / "tests" / "data" / "fall_model_check.csv"
STUMBLE_OUT = ROOT / "monitor" / "safety" / "stumble_model_trained.py"
STUMBLE_CHECK_ROWS = ROOT / "tests" / "data" / "stumble_model_check.csv"

POSITIVE_WINDOW_S = 0.4  # the last 0.4 s before impact: where a trip still helps
NEGATIVE_GUARD_S = 1.5  # before the event minus this, a fall or stumble trace is walking
MARGIN_LOGIT = 1.5  # threshold above the worst normal moment: ~30 % more descent or tilt
SENSOR_VARIANTS = ("50hz-8g", "mirror-100hz")  # augmentations of the recording alone, applied to falls and stumbles too
STUMBLE_WINDOW_S = (-0.5, 1.0)  # around a stumble's acceleration peak: the jolt and the trunk's answer to it
STUMBLE_MARGIN_LOGIT = 1.2  # the stumble threshold above the worst normal moment: ~14 % more jolt ratio (1.0-1.3 caught 53 of 55 stumbles cross-validated, 1.4-1.5 caught 52, with no new false trip; the held-out margins stayed >= 1.25 logit)
STUMBLE_GATE_JOLT_SCORE = 3.0  # the stumble model is judged only while the physics jolt score exceeds this
STUMBLE_REFITS = 2  # refits on the samples that decide (_decisive_weights): +4 stumbles of 55 under
# subject-wise cross-validation, the held-out normal gait still >= 0.8 logit under its threshold
STUMBLE_HARD_NORMAL_LOGIT = 3.0  # normal samples this close to the largest normal score...
STUMBLE_HARD_NORMAL_WEIGHT = 10.0  # ...weigh this much (the rest of the normal gait 1)
STUMBLE_BEST_FRACTION = 0.5  # a stumble's best half of its window's samples weigh 1...
STUMBLE_REST_WEIGHT = 0.05  # ...the rest this little
L2 = 1.0  # ridge on the standardised weights
GATE_DESCENT_MPS = 0.4  # the model is judged only while the waist goes down faster than this
GATE_TILT_RAD = 0.1  # ...and the trunk is off its upright by more than this
GATE_AGE_S = 1.5  # ...and the detector has run this long: its upright and levels are learnt. Before,
# the first steps of a recording that starts mid-jog score like a fall (1.0 s until the levels were learnt
# as a running mean: then a jog's first 1.5 s set the threshold, 0.9 logit higher, and the bench's falls
# were caught 15 ms later)
GAIT_FLOOR_MPS = 0.2  # a gait level below this is standing or shuffling: no finer normalisation


def gate_model(model: fall_model.FallModel | None = None) -> fall_model.FallModel:
    """The model's constants with this script's gate (weights unused while extracting)."""
    return fall_model.FallModel(0.0, (0.0,) * len(fall_model.FEATURES), math.inf,
                                GATE_DESCENT_MPS, GATE_TILT_RAD, GAIT_FLOOR_MPS, GATE_AGE_S)


def _treadmill_rows(trace: Trace) -> list[list[float]]:
    """t and the IMU in the treadmill frame, as the safety core rotates them."""
    ok = trace.imu_ok
    samples = np.column_stack([trace.t_s, trace.accel_mps2, trace.gyro_radps])[ok]
    m = trace.imu_mount
    r = mount_.from_matrix(m.tolist()) if m is not None else mount_.from_gravity(*samples[0, 1:4])
    rot = np.array(r).reshape(3, 3)
    return np.column_stack([samples[:, 0], samples[:, 1:4] @ rot.T, samples[:, 4:7] @ rot.T]).tolist()


def stumble_gate_model() -> stumble_model.StumbleModel:
    """The stumble model's constants with this script's gate (weights unused while extracting)."""
    return stumble_model.StumbleModel(0.0, (0.0,) * len(stumble_model.FEATURES), math.inf,
                                      STUMBLE_GATE_JOLT_SCORE, GAIT_FLOOR_MPS)


def gated_features(trace: Trace, params: MotionParams = MotionParams()) -> tuple[np.ndarray, ...]:
    """(times, inputs) of the samples where the fall model would be judged, and the same
    for the stumble model, from the real detector."""
    model = gate_model()
    stumbles = stumble_gate_model()
    d = MotionDetector(params, model, stumbles)
    warmup = params.warmup_s
    times, rows, stimes, srows = [], [], [], []
    for row in _treadmill_rows(trace):
        d.update(*row)
        if d._age_s < warmup:
            continue
        down, tilt = -d.v_mps, d.tilt_rad
        gait = math.sqrt(d.gait_ms)
        if fall_model.is_gated(model, d._age_s, down, tilt):
            times.append(row[0])
            rows.append(fall_model.features(model, down, gait, tilt, d.w_radps,
                                            d.rate_level_radps, d.jolt_ratio_held))
        if stumble_model.is_gated(stumbles, d.jolt_score):
            jolt_level = max(math.sqrt(d.jolt_ms), params.jolt_level_min_mps2)
            stimes.append(row[0])
            srows.append(stumble_model.features(stumbles, d.jolt_ratio_held, jolt_level, d.w_radps,
                                                d.rate_level_radps, down, gait, tilt))
    return (np.array(times), np.array(rows).reshape(-1, len(fall_model.FEATURES)),
            np.array(stimes), np.array(srows).reshape(-1, len(stumble_model.FEATURES)))


@dataclass
class Rows:
    """One trace's gated samples and what they are."""
    name: str
    activity: str
    subject: str
    variant: str
    times: np.ndarray  # the fall model's gated samples
    x: np.ndarray
    y: np.ndarray  # 1 positive, 0 negative, -1 unused
    stimes: np.ndarray  # the stumble model's gated samples
    sx: np.ndarray
    sy: np.ndarray


def extract(job: tuple[str, str]) -> Rows:
    path, variant = job
    trace = read_trace(path)
    if variant:
        trace = augment(trace, variant)
    activity, subject = who(path)
    times, x, stimes, sx = gated_features(trace)
    label = trace.meta.get("label", {})
    y = np.zeros(len(times))
    sy = np.zeros(len(stimes))
    if activity.startswith("F"):
        impact = label["impact_s"]
        y[:] = -1
        y[times < impact - NEGATIVE_GUARD_S] = 0
        y[(times >= impact - POSITIVE_WINDOW_S) & (times < impact)] = 1
        sy[:] = -1
        sy[stimes < impact - NEGATIVE_GUARD_S] = 0
    elif activity == "D18":
        peak = label["peak_s"]
        y[:] = -1
        y[times < peak - NEGATIVE_GUARD_S] = 0
        sy[:] = -1
        sy[stimes < peak - NEGATIVE_GUARD_S] = 0
        sy[(stimes >= peak + STUMBLE_WINDOW_S[0]) & (stimes <= peak + STUMBLE_WINDOW_S[1])] = 1
    return Rows(Path(path).name, activity, subject, variant, times, x, y, stimes, sx, sy)


def jobs_for(paths: list[str]) -> list[tuple[str, str]]:
    """Every trace, every augmented copy of the normal gait, and copies of the falls and
    stumbles as other sensors would record them (so a slower, low-range sensor's smaller
    jolts are learnt as a stumble too, not only as walking)."""
    jobs = [(p, "") for p in paths]
    jobs += [(p, v) for v in VARIANTS for p in paths if who(p)[0] in NORMAL]
    jobs += [(p, v) for v in SENSOR_VARIANTS for p in paths if who(p)[0] not in NORMAL]
    return jobs


def extract_all(paths: list[str], jobs: int) -> list[Rows]:
    with multiprocessing.Pool(jobs) as pool:
        return pool.map(extract, jobs_for(paths), chunksize=1)


def _logistic(x: np.ndarray, y: np.ndarray, l2: float,
              sample_weight: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Class-balanced L2 logistic regression by Newton's method, in raw units (each
    class's weights summing to half the samples, so the ridge means the same either way)."""
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd])
    if sample_weight is None:
        weight = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1.0 - y.mean()))
    else:
        positive = y > 0
        weight = sample_weight * len(y) * np.where(positive, 0.5 / sample_weight[positive].sum(),
                                                   0.5 / sample_weight[~positive].sum())
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


def _fit_non_negative(x: np.ndarray, y: np.ndarray,
                      sample_weight: np.ndarray | None = None) -> tuple[float, tuple[float, ...]]:
    """Non-negative weights: a weight that comes out negative is dropped and the rest refitted."""
    used = y >= 0
    x, y = x[used], y[used]
    sample_weight = None if sample_weight is None else sample_weight[used]
    keep = list(range(x.shape[1]))
    while True:
        intercept, coef = _logistic(x[:, keep], y, L2, sample_weight)
        if (coef >= 0).all():
            break
        keep.pop(int(np.argmin(coef)))
    weights = np.zeros(x.shape[1])
    weights[keep] = coef
    return intercept, tuple(float(w) for w in weights)


def fit(rows: list[Rows]) -> fall_model.FallModel:
    """The model from these rows (the training subjects' only): non-negative weights
    (a weight that comes out negative is dropped and the rest refitted), threshold at
    the largest normal score plus MARGIN_LOGIT."""
    intercept, weights = _fit_non_negative(np.vstack([r.x for r in rows]), np.concatenate([r.y for r in rows]))
    model = fall_model.FallModel(intercept, weights, 0.0, GATE_DESCENT_MPS, GATE_TILT_RAD, GAIT_FLOOR_MPS,
                                 GATE_AGE_S)
    worst = max(float(np.max(scores(model, r.x)[r.y == 0], initial=-np.inf)) for r in rows)
    return fall_model.FallModel(model.intercept, model.coefficients, worst + MARGIN_LOGIT,
                                GATE_DESCENT_MPS, GATE_TILT_RAD, GAIT_FLOOR_MPS, GATE_AGE_S)


def fit_stumble(rows: list[Rows], margin_logit: float = STUMBLE_MARGIN_LOGIT) -> stumble_model.StumbleModel:
    """The stumble model from these rows (the training subjects' only), as fit() does the fall
    model, then refitted STUMBLE_REFITS times on what decides (see _decisive_weights)."""
    x = np.vstack([r.sx for r in rows])
    y = np.concatenate([r.sy for r in rows])
    trace = np.concatenate([np.full(len(r.sy), i) for i, r in enumerate(rows)])
    intercept, weights = _fit_non_negative(x, y)
    for _ in range(STUMBLE_REFITS):
        intercept, weights = _fit_non_negative(
            x, y, _decisive_weights(intercept + x @ np.array(weights), y, trace))
    model = stumble_model.StumbleModel(intercept, weights, 0.0, STUMBLE_GATE_JOLT_SCORE, GAIT_FLOOR_MPS)
    worst = max(float(np.max(scores(model, r.sx)[r.sy == 0], initial=-np.inf)) for r in rows)
    return stumble_model.StumbleModel(intercept, weights, worst + margin_logit, STUMBLE_GATE_JOLT_SCORE,
                                      GAIT_FLOOR_MPS)


def _decisive_weights(score: np.ndarray, y: np.ndarray, trace: np.ndarray) -> np.ndarray:
    """Sample weights for a refit on the samples that decide: the threshold is set by the
    largest normal score, so the normal samples within STUMBLE_HARD_NORMAL_LOGIT of it weigh
    STUMBLE_HARD_NORMAL_WEIGHT; a stumble is caught by its best moment, so each stumble
    trace's best STUMBLE_BEST_FRACTION of its positive samples weigh 1 and the rest of its
    window (the jolt's lead-in and the trunk's late answer) STUMBLE_REST_WEIGHT."""
    weight = np.ones(len(y))
    normal = y == 0
    worst = score[normal].max(initial=-np.inf)
    weight[normal & (score > worst - STUMBLE_HARD_NORMAL_LOGIT)] = STUMBLE_HARD_NORMAL_WEIGHT
    for i in np.unique(trace[y == 1]):
        mine = np.flatnonzero((trace == i) & (y == 1))
        best = max(1, int(STUMBLE_BEST_FRACTION * len(mine)))
        weight[mine[np.argsort(-score[mine])[best:]]] = STUMBLE_REST_WEIGHT
    return weight


def scores(model: fall_model.FallModel | stumble_model.StumbleModel, x: np.ndarray) -> np.ndarray:
    return model.intercept + x @ np.array(model.coefficients)


def part(r: Rows, stumble: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, inputs, labels) of one trace for the stumble model or the fall model."""
    return (r.stimes, r.sx, r.sy) if stumble else (r.times, r.x, r.y)


def worst_normal(model: fall_model.FallModel | stumble_model.StumbleModel, rows: list[Rows]) -> tuple[float, str]:
    stumble = isinstance(model, stumble_model.StumbleModel)
    best = (-math.inf, "")
    for r in rows:
        times, x, y = part(r, stumble)
        s = np.where(y == 0, scores(model, x), -np.inf)
        if len(s) and s.max() > best[0]:
            i = int(np.argmax(s))
            best = (float(s[i]), f"{r.name}{'#' + r.variant if r.variant else ''}@{times[i]:.2f}s")
    return best


def export(model: fall_model.FallModel | stumble_model.StumbleModel, rows: list[Rows]) -> str:
    stumble = isinstance(model, stumble_model.StumbleModel)
    n_pos = int(sum((part(r, stumble)[2] == 1).sum() for r in rows))
    n_neg = int(sum((part(r, stumble)[2] == 0).sum() for r in rows))
    subjects = sorted({r.subject for r in rows})
    what, margin = ("stumble", STUMBLE_MARGIN_LOGIT) if stumble else ("fall", MARGIN_LOGIT)
    lines = [
        f'"""The {what} model\'s fitted numbers, written by bench/train_motion.py: do not edit by hand."""',
        f"# fitted on {len(subjects)} subjects ({', '.join(subjects)}): {n_pos} positive and {n_neg} normal",
        f"# gated samples; threshold = the largest normal score + {margin} (log-odds)",
        f"INTERCEPT = {model.intercept!r}",
        "COEFFICIENTS = (" + ", ".join(repr(w) for w in model.coefficients) + ",)",
        f"THRESHOLD_LOGIT = {model.threshold_logit!r}",
    ]
    if stumble:
        lines.append(f"GATE_JOLT_SCORE_RATIO = {STUMBLE_GATE_JOLT_SCORE!r}")
    else:
        lines += [f"GATE_DESCENT_MPS = {GATE_DESCENT_MPS!r}", f"GATE_TILT_RAD = {GATE_TILT_RAD!r}",
                  f"GATE_AGE_S = {GATE_AGE_S!r}"]
    lines.append(f"GAIT_FLOOR_MPS = {GAIT_FLOOR_MPS!r}")
    return "\n".join(lines) + "\n"


def check_rows(model: fall_model.FallModel | stumble_model.StumbleModel, rows: list[Rows], n: int = 40) -> str:
    """The closest normal rows, positives around the threshold, and a spread: the
    inputs and the fitted (numpy) score, for the test of the exported model."""
    stumble = isinstance(model, stumble_model.StumbleModel)
    x = np.vstack([part(r, stumble)[1] for r in rows])
    y = np.concatenate([part(r, stumble)[2] for r in rows])
    s = scores(model, x)
    picks = set(np.argsort(-np.where(y == 0, s, -np.inf))[:n].tolist())
    picks |= set(np.argsort(np.abs(np.where(y == 1, s, np.inf) - model.threshold_logit))[:n].tolist())
    picks |= set(range(0, len(x), max(1, len(x) // n)))
    names = stumble_model.FEATURES if stumble else fall_model.FEATURES
    out = [",".join(names + ("fitted_score_logit", "trips"))]
    for i in sorted(picks):
        out.append(",".join(repr(float(v)) for v in x[i]) + f",{float(s[i])!r},{int(s[i] > model.threshold_logit)}")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding the dev folders (bench/devdata.py)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--check", action="store_true", help="fit and print; write nothing")
    parser.add_argument("--cache", type=Path, help="reuse the features bench/evaluate_dev.py --cache kept there")
    args = parser.parse_args()
    paths = dev_paths(args.data)
    if not paths:
        print(f"no dev traces in {args.data}", file=sys.stderr)
        return 1
    cached = args.cache / "features.pickle" if args.cache else None
    if cached is not None and cached.exists():  # written by bench/evaluate_dev.py --cache
        with open(cached, "rb") as f:
            rows = pickle.load(f)[0]
    else:
        rows = extract_all(paths, args.jobs)
    print(f"{len(rows)} traces ({len(paths)} recorded, the rest augmented)")
    for model, names, margin, out, check in (
            (fit(rows), fall_model.FEATURES, MARGIN_LOGIT, OUT, CHECK_ROWS),
            (fit_stumble(rows), stumble_model.FEATURES, STUMBLE_MARGIN_LOGIT, STUMBLE_OUT, STUMBLE_CHECK_ROWS)):
        value, where = worst_normal(model, rows)
        print(f"{out.stem}:")
        for name, w in zip(names, model.coefficients):
            print(f"  {name:22} {w:9.4f}")
        print(f"  intercept              {model.intercept:9.4f}")
        print(f"  threshold {model.threshold_logit:.4f} = worst normal {value:.4f} ({where}) + {margin}")
        if not args.check:
            out.write_text(export(model, rows))
            check.parent.mkdir(exist_ok=True)
            check.write_text(check_rows(model, rows))
            print(f"  wrote {out.relative_to(ROOT)} and {check.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
