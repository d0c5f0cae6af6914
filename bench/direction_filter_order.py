"""Probes how the gait cue's strength depends on its low-pass filter's order, on the mounted dev recordings.

    python bench/direction_filter_order.py [--data DIR] [--poles 1,2,3]

monitor/safety/direction.py low-passes the vertical and fore-aft accelerations
with one first-order stage at 3 Hz before it takes the vertical jerk, whose
derivative lifts whatever the filter lets through above the step band. This
re-implements that filter chain in plain Python (one pole reproduces the
estimator's own median correlations within about 0.01) and runs it with 1, 2 or
3 identical stages in cascade, on the forward SisFall walking and jogging
recordings (the ones with a mount). Both signals pass the same stages, so
their relative timing, which the cue reads, is kept.

Figures: per recording, the median correlation of the vertical jerk with the
fore-aft acceleration after the first 20 s, for each number of stages; then,
per gait, the weakest and the median recording. Walking should be positive and
jogging negative; a larger magnitude is a clearer cue. Nothing here is used by
the monitor: it is a probe for a future change of the estimator.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devdata import DATA, who  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402

HIGH_PASS_HZ, LOW_PASS_HZ, TAU_S = 0.5, 3.0, 3.0  # as in monitor/safety/direction.py and its default gait_tau_s
SKIP_S = 20.0


def median_correlation(path: str, poles: int) -> float:
    trace = read_trace(path)
    mount = np.asarray(trace.meta["imu_mount"], dtype=float)
    accel = np.nan_to_num(trace.accel_mps2) @ mount.T  # the treadmill frame: x the front of a forward walker
    t_s = trace.t_s
    dt_s = float(np.median(np.diff(t_s)))
    hp, lp, k = dt_s * 2 * math.pi * HIGH_PASS_HZ, dt_s * 2 * math.pi * LOW_PASS_HZ, dt_s / TAU_S
    mean_v, mean_f = accel[0, 2], accel[0, 0]
    v, f = [0.0] * poles, [0.0] * poles
    jerk_f = jerk2 = f2 = 0.0
    out = []
    for i, (front, _, up) in enumerate(accel.tolist()):
        mean_v += (up - mean_v) * hp
        mean_f += (front - mean_f) * hp
        before = v[-1]
        x_v, x_f = up - mean_v, front - mean_f
        for stage in range(poles):
            v[stage] += (x_v - v[stage]) * lp
            f[stage] += (x_f - f[stage]) * lp
            x_v, x_f = v[stage], f[stage]
        jerk = (v[-1] - before) / dt_s
        jerk_f += (jerk * f[-1] - jerk_f) * k
        jerk2 += (jerk * jerk - jerk2) * k
        f2 += (f[-1] * f[-1] - f2) * k
        if t_s[i] - t_s[0] > SKIP_S and i % 10 == 0 and jerk2 * f2 > 0:
            out.append(jerk_f / math.sqrt(jerk2 * f2))
    return float(np.median(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--poles", default="1,2,3", help="the numbers of low-pass stages to compare")
    args = parser.parse_args()
    poles = [int(p) for p in args.poles.split(",")]
    paths = sorted(str(p) for p in (args.data / "sisfall-dev").glob("sisfall-D0[1-4]-*.csv.gz"))
    paths += sorted(str(p) for p in (args.data / "sisfall-elderly-dev").glob("*.csv.gz"))
    figures: dict[str, list[list[float]]] = {"walking": [], "jogging": []}
    print(f"{'recording':28} " + " ".join(f"{n} stage{'s' if n > 1 else ''}".rjust(9) for n in poles))
    for path in paths:
        row = [median_correlation(path, n) for n in poles]
        figures["jogging" if who(path)[0] in ("D03", "D04") else "walking"].append(row)
        print(f"{Path(path).name.removesuffix('.csv.gz'):28} " + " ".join(f"{c:+9.2f}" for c in row))
    for gait, rows in figures.items():
        values = np.abs(np.array(rows))
        signs = np.sign(np.array(rows))
        print(f"{gait} ({len(rows)} recordings): " + "; ".join(
            f"{n} stage(s): weakest {values[:, j].min():.2f}, median {np.median(values[:, j]):.2f}, "
            f"sign {'+' if gait == 'walking' else '-'} in {int(np.sum(signs[:, j] == (1 if gait == 'walking' else -1)))}"
            for j, n in enumerate(poles)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
