"""Makes the bench demo trace: 12 s of steady walking on a moving belt, then a
stumble (a foot catches, the trunk pitches forward and is caught again).

    python bench/make_demo_trace.py [OUT]   (default: monitor/demo/walk-then-stumble.csv.gz)

A small kinematic model, seeded and deterministic: the trunk's pitch and roll
follow the gait, the waist's linear acceleration follows the steps, and the IMU
reports the specific force and angular rate in its own frame. The walking is
sized like the SisFall waist recordings (vertical 5 to 20 m/s², trunk rates
within about 1.5 rad/s). The stumble is a mild one, milder than most recorded
stumbles: the trunk pitches 0.2 rad (at up to about 1.4 rad/s) and is caught,
the waist sags at up to 10 m/s², and the foot's catch jolts it 22 m/s² backwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.formats.trace_format import Trace
from monitor.formats.trace_writer import write_trace  # noqa: E402

G = 9.80665
RATE_HZ = 200.0
DURATION_S = 18.0
STUMBLE_S = 12.0
STEP_HZ = 1.8  # steps per second at 4.3 km/h
BELT_MPS = 1.2
OUT = Path(__file__).resolve().parents[1] / "monitor" / "demo" / "walk-then-stumble.csv.gz"


def bump(t: np.ndarray, start: float, rise_s: float, fall_s: float) -> np.ndarray:
    """0 before start, a smooth rise to 1 over rise_s, a smooth fall back over fall_s."""
    up = np.clip((t - start) / rise_s, 0, 1)
    down = np.clip((t - start - rise_s) / fall_s, 0, 1)
    return np.sin(np.pi / 2 * up) ** 2 * np.cos(np.pi / 2 * down) ** 2


def make(seed: int = 20261124) -> Trace:
    rng = np.random.default_rng(seed)
    t = np.arange(0, DURATION_S, 1 / RATE_HZ)
    w = 2 * np.pi * STEP_HZ * t
    # Trunk attitude: pitch (about y, forward positive) and roll (about x), in radians.
    pitch = 0.04 * np.sin(w) + 0.2 * bump(t, STUMBLE_S, 0.22, 0.6)
    roll = 0.035 * np.sin(w / 2)
    pitch_rate = np.gradient(pitch, t)
    roll_rate = np.gradient(roll, t)
    yaw_rate = 0.35 * np.cos(w / 2)
    # Linear acceleration of the waist in the treadmill frame, m/s².
    ax = 1.6 * np.sin(w + 0.8) - 22.0 * bump(t, STUMBLE_S + 0.02, 0.05, 0.1)
    ay = 0.9 * np.sin(w / 2)
    # The stumble: the waist sags as the trunk pitches (partial free fall), then the
    # recovery step catches it with a hard landing.
    az = (3.0 * np.sin(w) + 1.2 * np.sin(2 * w + 0.5) - 10.0 * bump(t, STUMBLE_S + 0.02, 0.1, 0.12)
          + 24.0 * bump(t, STUMBLE_S + 0.3, 0.04, 0.1))
    # Specific force seen by a sensor that pitches and rolls with the trunk.
    fx, fy, fz = ax, ay, az + G
    cp, sp, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    bx = cp * fx - sp * fz  # rotate by -pitch about y
    bz1 = sp * fx + cp * fz
    by = cr * fy + sr * bz1  # then by -roll about x
    bz = -sr * fy + cr * bz1
    accel = np.column_stack([bx, by, bz]) + rng.normal(0, 0.08, (len(t), 3))
    gyro = np.column_stack([roll_rate, pitch_rate, yaw_rate]) + rng.normal(0, 0.01, (len(t), 3))
    belt = np.where(np.arange(len(t)) % 20 == 0, BELT_MPS, np.nan)  # 10 readings a second
    walker_m = 0.65 + 0.04 * np.sin(w) + 0.25 * bump(t, STUMBLE_S, 0.3, 3.0)
    range_m = np.where(np.arange(len(t)) % 10 == 5, walker_m, np.nan)  # 20 a second
    meta = {
        "source": "treadguard bench demo: synthetic walking then a stumble (bench/make_demo_trace.py)",
        "imu_mount": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "walking": "forward",
        "rear_edge_m": 1.6,
        "label": {"event": "stumble", "onset_s": STUMBLE_S},
    }
    return Trace(str(OUT), meta, np.round(t, 6), np.round(accel, 4), np.round(gyro, 5),
                 np.ones(len(t), bool), belt, np.round(range_m, 4))


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    write_trace(out, make())
    print(f"wrote {out}")
