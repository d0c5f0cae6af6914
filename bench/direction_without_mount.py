"""Looks for a walking-direction cue that needs no mount: heading-free statistics, odd under time reversal.

    python bench/direction_without_mount.py [--data DIR] [--window-s S] [--list]

With no `imu_mount` the vertical is known from gravity, but not which horizontal
axis is the body's front, nor its sign. Backward walking is close to forward
walking reversed in time, which flips every rate and jerk but no acceleration.
So a statistic that is odd under time reversal and unchanged when the horizontal
axes turn (any heading, either sign) would tell forward from backward with no
mount, if it kept one sign across people walking forward.

For every forward walking recording of the four dev datasets (SisFall walking,
young and older; mobgap bouts; Moving Reality treadmill trials after a stroke;
jogging is scored apart), in windows of --window-s seconds of gait, each
candidate is computed in the step band (0.5 to 3 Hz, zero-phase: this is an
offline search, not the monitor's filter). The reversed copy of a window gives
exactly minus the value, so only the forward sign matters. Figures, per
candidate: how many subjects' medians have the majority sign, the share of all
windows with it, and, with each subject held out, the sign taken from the other
subjects and the held-out subject's share of windows with that sign; then a
linear combination of all candidates (no intercept, fitted on the other
subjects' windows and their reversed copies), scored the same way.

A cue is usable only if every held-out subject's windows keep the sign with
margin: a forward walker must never be reported backward.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devdata import DATA, who  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402

STEP_BAND_HZ = (0.5, 3.0)  # below the impacts, where time reversal is a fair proxy for backward walking
GRAVITY_HZ = 0.3
MOVING_MPS2 = 0.8  # RMS of the vertical in the step band over 2 s: stepping
JOGGING = ("D03", "D04")

CANDIDATES = {
    "skew_jv": "skewness of the vertical jerk",
    "jv_ah2": "corr(vertical jerk, |horizontal acceleration|^2)",
    "jv_al2": "corr(vertical jerk, lateral acceleration^2)",
    "jv_af2": "corr(vertical jerk, fore-aft acceleration^2)",
    "jv_wh2": "corr(vertical jerk, |horizontal rate|^2)",
    "lag_av_ah": "lag asymmetry of |horizontal acceleration| after the vertical (0 to 0.25 s)",
    "ah_dot_wh": "horizontal acceleration . horizontal rate",
    "ah_x_wh": "(horizontal acceleration x horizontal rate), vertical part",
    "af_wl": "fore-aft acceleration x pitch rate",
    "al_wf": "lateral acceleration x roll rate",
    "loop": "turning sense of the horizontal acceleration (a_h x da_h/dt)",
    "av_loop": "corr(vertical acceleration, a_h x da_h/dt)",
    "wv_av": "corr(vertical rate, vertical acceleration)",
}
REFERENCE = "with_mount"  # the monitor's gait cue, which needs the front: only where the mount is known


def band(x: np.ndarray, fs_hz: float, lo_hz: float, hi_hz: float) -> np.ndarray:
    """Zero-phase band-pass by FFT (offline only)."""
    spectrum = np.fft.rfft(x, axis=0)
    f = np.fft.rfftfreq(len(x), 1.0 / fs_hz)
    spectrum[(f < lo_hz) | (f > hi_hz)] = 0
    return np.fft.irfft(spectrum, len(x), axis=0)


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    return float(np.mean(x * y) / np.sqrt(np.mean(x * x) * np.mean(y * y)))


def _lag_asymmetry(x: np.ndarray, y: np.ndarray, fs_hz: float, max_s: float = 0.25) -> float:
    """Mean over lags 0..max_s of corr(x(t), y(t + lag)) - corr(x(t), y(t - lag)): + when y follows x."""
    x = x - x.mean()
    y = y - y.mean()
    n, lags = len(x), int(max_s * fs_hz)
    scale = np.sqrt(np.mean(x * x) * np.mean(y * y))
    return float(sum(np.mean(x[:n - k] * y[k:]) - np.mean(x[k:] * y[:n - k]) for k in range(1, lags)) / scale / lags)


def candidates(accel: np.ndarray, gyro: np.ndarray, fs_hz: float, front: np.ndarray | None) -> dict[str, float]:
    """Every candidate on one window of gait (sensor-frame samples, any mount), and the monitor's own
    gait cue where the mount gives the body's front (a check that this search finds a cue that holds)."""
    up = band(accel, fs_hz, 0.0, GRAVITY_HZ)
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    a_v = np.sum(accel * up, 1)
    w_v = np.sum(gyro * up, 1)
    a_h = band(accel - a_v[:, None] * up, fs_hz, *STEP_BAND_HZ)
    w_h = band(gyro - w_v[:, None] * up, fs_hz, *STEP_BAND_HZ)
    a_v = band(a_v, fs_hz, *STEP_BAND_HZ)
    w_v = band(w_v, fs_hz, *STEP_BAND_HZ)
    j_v = np.gradient(a_v) * fs_hz
    a_h2 = np.sum(a_h * a_h, 1)
    w_h2 = np.sum(w_h * w_h, 1)
    # The fore-aft axis, up to its sign: the horizontal direction most coherent with the vertical at the step
    # frequency (the lateral sway runs at the stride frequency). Products of two of its components do not
    # depend on the sign.
    mean_up = up.mean(0) / np.linalg.norm(up.mean(0))
    p = (a_v[:, None] * a_h).mean(0)
    q = (j_v[:, None] * a_h).mean(0) / (2 * np.pi * 1.8)
    fore = np.linalg.eigh(np.outer(p, p) + np.outer(q, q))[1][:, -1]
    fore -= mean_up * (fore @ mean_up)
    fore /= np.linalg.norm(fore)
    side = np.cross(mean_up, fore)
    a_f, a_l, w_f, w_l = a_h @ fore, a_h @ side, w_h @ fore, w_h @ side
    a_dot = np.gradient(a_h, axis=0) * fs_hz
    loop = np.sum(np.cross(a_h, a_dot) * up, 1)
    norm_aw = np.sqrt(np.mean(a_h2) * np.mean(w_h2))
    return {
        "skew_jv": float(np.mean(j_v ** 3) / np.mean(j_v ** 2) ** 1.5),
        "jv_ah2": _corr(j_v, a_h2), "jv_al2": _corr(j_v, a_l ** 2), "jv_af2": _corr(j_v, a_f ** 2),
        "jv_wh2": _corr(j_v, w_h2),
        "lag_av_ah": _lag_asymmetry(a_v, np.sqrt(a_h2), fs_hz),
        "ah_dot_wh": float(np.mean(np.sum(a_h * w_h, 1)) / norm_aw),
        "ah_x_wh": float(np.mean(np.sum(np.cross(a_h, w_h) * up, 1)) / norm_aw),
        "af_wl": _corr(a_f, w_l), "al_wf": _corr(a_l, w_f),
        "loop": float(np.mean(loop) / np.sqrt(np.mean(a_h2) * np.mean(np.sum(a_dot * a_dot, 1)))),
        "av_loop": _corr(a_v, loop), "wv_av": _corr(w_v, a_v),
        "with_mount": float("nan") if front is None else _corr(j_v, a_h @ front),
    }


def windows(path: str, window_s: float) -> list[dict[str, float]]:
    """The candidates on each window of gait of one recording (a short bout: its whole gait)."""
    trace = read_trace(path)
    fs_hz = 1.0 / float(np.median(np.diff(trace.t_s)))
    accel = np.nan_to_num(trace.accel_mps2)
    gyro = np.nan_to_num(trace.gyro_radps)
    up = band(accel, fs_hz, 0.0, GRAVITY_HZ)
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    bounce = band(np.sum(accel * up, 1), fs_hz, *STEP_BAND_HZ)
    k = int(2 * fs_hz)
    moving = np.sqrt(np.convolve(bounce ** 2, np.ones(k) / k, "same")) > MOVING_MPS2
    mount = trace.meta.get("imu_mount")
    front = None if mount is None else np.asarray(mount, dtype=float).T @ np.array([1.0, 0.0, 0.0])
    n = int(window_s * fs_hz)
    out = [candidates(accel[s:s + n], gyro[s:s + n], fs_hz, front)
           for s in range(0, len(accel) - n + 1, n) if moving[s:s + n].mean() > 0.9]
    if not out and moving.sum() > 3 * fs_hz:
        idx = np.flatnonzero(moving)
        out.append(candidates(accel[idx[0]:idx[-1]], gyro[idx[0]:idx[-1]], fs_hz, front))
    return out


def recordings(data: Path) -> list[str]:
    out = sorted(str(p) for p in (data / "sisfall-dev").glob("sisfall-D0[1-4]-*.csv.gz"))
    for folder in ("sisfall-elderly-dev", "mobgap-dev", "movingreality-dev"):
        out += sorted(str(p) for p in (data / folder).glob("*.csv.gz"))
    return out


def _fit(x: np.ndarray, l2: float = 1.0, rounds: int = 3000) -> np.ndarray:
    """Logistic weights, no intercept, on forward windows (1) and their reversed copies (-x, 0)."""
    both = np.vstack([x, -x])
    y = np.r_[np.ones(len(x)), np.zeros(len(x))]
    w = np.zeros(x.shape[1])
    for _ in range(rounds):
        p = 1.0 / (1.0 + np.exp(-both @ w))
        w -= (both.T @ (p - y) + l2 * w) / len(y)
    return w


def held_out(values: np.ndarray, subjects: np.ndarray) -> dict[str, float]:
    """Each subject held out: the share of its windows with the sign the other subjects' windows have."""
    out = {}
    for s in sorted(set(subjects)):
        sign = np.sign(np.median(values[subjects != s]))
        out[s] = float(np.mean(np.sign(values[subjects == s]) == sign))
    return out


def _print_candidate(name: str, values: np.ndarray, subjects: np.ndarray, per_subject: bool) -> None:
    people = sorted(set(subjects))
    medians = {s: float(np.median(values[subjects == s])) for s in people}
    sign = np.sign(np.median(values))
    agree = sum(np.sign(m) == sign for m in medians.values())
    scored = held_out(values, subjects)
    worst = min(scored, key=scored.get)
    print(f"  {name:11} {agree:5}/{len(people)} {'+' if sign > 0 else '-'} {min(medians.values()):+.2f}.."
          f"{max(medians.values()):+.2f} {100 * np.mean(np.sign(values) == sign):6.1f} %  "
          f"{worst} ({100 * scored[worst]:.0f} %), {sum(v < 0.95 for v in scored.values())}")
    if per_subject:
        print("      " + " ".join(f"{s} {m:+.2f}" for s, m in medians.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--list", action="store_true", help="every subject's median of every candidate")
    args = parser.parse_args()
    rows: dict[str, list] = defaultdict(list)  # gait -> (subject, candidates)
    for path in recordings(args.data):
        activity, subject = who(path)
        for values in windows(path, args.window_s):
            rows["jogging" if activity in JOGGING else "walking"].append((subject, values))
    for gait, group in rows.items():
        subjects = np.array([s for s, _ in group])
        people = sorted(set(subjects))
        print(f"{gait}: {len(group)} windows of {args.window_s:g} s, {len(people)} subjects")
        print(f"  {'candidate':11} {'subject medians':>16} {'windows':>8}  held out: worst subject (share right), "
              f"subjects under 95 %")
        table = {name: np.array([v[name] for _, v in group]) for name in CANDIDATES}
        for name, values in table.items():
            _print_candidate(name, values, subjects, args.list)
        reference = np.array([v[REFERENCE] for _, v in group])
        mounted = ~np.isnan(reference)
        print(f"  reference: the monitor's cue, which needs the mount's front ({len(set(subjects[mounted]))} "
              f"subjects with a mount)")
        _print_candidate(REFERENCE, reference[mounted], subjects[mounted], args.list)
        x = np.column_stack(list(table.values()))
        right = {}
        for s in people:
            w = _fit(x[subjects != s])
            right[s] = float(np.mean(x[subjects == s] @ w > 0))
        worst = min(right, key=right.get)
        print(f"  all {len(table)} combined (held-out fit): worst subject {worst} ({100 * right[worst]:.0f} % right), "
              f"{sum(v < 0.95 for v in right.values())} of {len(people)} subjects under 95 %, "
              f"{sum(v < 1.0 for v in right.values())} with a window reported the wrong way")
        print("    " + " ".join(f"{s} {100 * v:.0f}%" for s, v in right.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
