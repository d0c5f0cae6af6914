"""Augmented copies of real walking traces: other sensors, mounts, speeds and starts.

The dev recordings are young adults and a few patients on two sensors; the monitor
must hold on sensors and people we do not have. Each variant here is a plausible
change of the *recording*, not of the person's physics beyond the stated one, used
to ask "would this walking have tripped?" (bench/evaluate_dev.py) and as extra
normal gait in training (bench/train_motion.py). Deterministic: the seed comes
from the variant and the trace's name.
"""

from __future__ import annotations

import zlib

import numpy as np

from monitor.formats.trace_format import Trace

G0 = 9.80665
VARIANTS = ("50hz-8g", "mount-noise", "slow-standing", "mirror-100hz", "quick", "reversed")
# What each variant asks of the detector that the recordings alone do not:
#   50hz-8g        a slow, low-range sensor: smaller, smeared jolts, clipped peaks
#   mount-noise    an unknown clip position and a noisier, biased sensor
#   slow-standing  slower walking (1.3 x) and the first steps after 8 s of standing
#   mirror-100hz   the other side leading (an asymmetric gait mirrored), at 100 Hz
#   quick          quicker walking and jogging (1.15 x: cadence up, accelerations up 1.32 x)
#   reversed       the recording run backward in time: the same gait with every rotation and
#                  every step's order reversed, the nearest real data has to walking backward
#                  (a mobgap bout without the rise from a chair before it: reversed, that is
#                  sitting down, where a stop is right, not walking)


def _seed(variant: str, path: str) -> int:
    return zlib.crc32(f"{variant}:{path}".encode())


def _mounted(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """Accel and gyro in the treadmill frame (z up), using the trace's mount or gravity."""
    acc, gyr = trace.accel_mps2, trace.gyro_radps
    ok = trace.imu_ok
    if trace.imu_mount is not None:
        r = np.asarray(trace.imu_mount, float)
    else:
        first = acc[ok][:50].mean(axis=0)
        u = first / np.linalg.norm(first)
        v = np.cross(u, [0.0, 0.0, 1.0])
        s, c = np.linalg.norm(v), float(u[2])
        if s < 1e-9:
            r = np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
        else:
            k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
            r = np.eye(3) + k + k @ k * ((1 - c) / s ** 2)
    return acc @ r.T, gyr @ r.T


def _decimate(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, rate_hz: float):
    """Average into bins of 1/rate_hz, as a sensor's own low-pass would."""
    step = max(1, int(round(1.0 / (rate_hz * float(np.median(np.diff(t)))))))
    n = len(t) // step * step
    def mean(x):
        return x[:n].reshape(-1, step, *x.shape[1:]).mean(axis=1)
    return t[:n].reshape(-1, step)[:, -1], mean(acc), mean(gyr)


def _smooth(x: np.ndarray, t: np.ndarray, window_s: float) -> np.ndarray:
    """Centred moving average over window_s (edges padded with the end values)."""
    half = max(1, int(round(window_s / 2 / float(np.median(np.diff(t))))))
    padded = np.concatenate([np.repeat(x[:1], half, axis=0), x, np.repeat(x[-1:], half, axis=0)])
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), padded]), axis=0)
    return (c[2 * half + 1:] - c[:-2 * half - 1]) / (2 * half + 1)


def _random_rotation(rng: np.random.Generator, max_tilt_rad: float) -> np.ndarray:
    yaw = rng.uniform(-np.pi, np.pi)
    tilt = rng.uniform(0.0, max_tilt_rad)
    axis_angle = rng.uniform(-np.pi, np.pi)
    ax = np.array([np.cos(axis_angle), np.sin(axis_angle), 0.0])
    k = np.array([[0, -ax[2], ax[1]], [ax[2], 0, -ax[0]], [-ax[1], ax[0], 0]])
    tilt_r = np.eye(3) + np.sin(tilt) * k + (1 - np.cos(tilt)) * k @ k
    c, s = np.cos(yaw), np.sin(yaw)
    return tilt_r @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _standing(rng: np.random.Generator, duration_s: float, rate_hz: float, up: np.ndarray):
    n = int(duration_s * rate_hz)
    t = np.arange(n) / rate_hz
    sway = 0.02 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3))
    acc = np.outer(np.ones(n), up * G0) + rng.normal(0, 0.08, (n, 3))
    acc[:, 0] += -G0 * sway
    gyr = rng.normal(0, 0.02, (n, 3))
    gyr[:, 1] += 2 * np.pi * 0.3 * 0.02 * np.cos(2 * np.pi * 0.3 * t)
    return t, acc, gyr


def augment(trace: Trace, variant: str) -> Trace:
    """One augmented copy of a trace (IMU only; the label is kept for scoring)."""
    rng = np.random.default_rng(_seed(variant, trace.path))
    ok = trace.imu_ok
    acc, gyr = _mounted(trace)
    t, acc, gyr = trace.t_s[ok], acc[ok], gyr[ok]
    meta = {k: v for k, v in trace.meta.items() if k not in ("imu_mount", "rear_edge_m")}
    if variant == "50hz-8g":  # a slow, low-range sensor: 50 Hz by averaging, clipped at +-8 g
        t, acc, gyr = _decimate(t, acc, gyr, 50.0)
        acc = np.clip(acc, -8 * G0, 8 * G0)
        meta["imu_mount"] = np.eye(3).tolist()
    elif variant == "mount-noise":  # unknown mount (tilted up to 25 deg, any heading), noise, bias, 1 % scale error
        r = _random_rotation(rng, 0.44)
        acc = (acc @ r) * rng.uniform(0.99, 1.01) + rng.normal(0, 0.15, acc.shape) + rng.normal(0, 0.2, 3)
        gyr = gyr @ r + rng.normal(0, 0.02, gyr.shape) + rng.normal(0, 0.02, 3)
    elif variant == "slow-standing":  # 1.3 x slower walking after 8 s of standing
        stretch = 1.3
        gravity = _smooth(acc, t, 0.5)  # posture: kept; the rest is motion, slowed
        acc = gravity + (acc - gravity) / stretch ** 2
        gyr = gyr / stretch
        t = (t - t[0]) * stretch
        rate = 1.0 / float(np.median(np.diff(t)))
        up = acc[:25].mean(axis=0) / np.linalg.norm(acc[:25].mean(axis=0))
        ts, a0, g0 = _standing(rng, 8.0, rate, up)
        t = np.concatenate([ts, t + ts[-1] + 1.0 / rate])
        acc = np.vstack([a0, acc])
        gyr = np.vstack([g0, gyr])
        meta["imu_mount"] = np.eye(3).tolist()
    elif variant == "quick":  # 1.15 x quicker: time compressed, motion scaled as (time scale)^-2, posture kept
        stretch = 1.0 / 1.15
        gravity = _smooth(acc, t, 0.5)
        acc = gravity + (acc - gravity) / stretch ** 2
        gyr = gyr / stretch
        t = (t - t[0]) * stretch
        meta["imu_mount"] = np.eye(3).tolist()
    elif variant == "reversed":  # backward in time: specific force is even in time, angular rate odd
        bout_start_s = trace.meta.get("reference", {}).get("bout_start_s")
        if bout_start_s is not None:  # a mobgap bout: from just before the walking, without the rise from
            keep = t >= t[0] + bout_start_s - 0.5  # a chair, which reversed is sitting down, not walking
            t, acc, gyr = t[keep], acc[keep], gyr[keep]
        t = t[-1] - t[::-1]
        acc = acc[::-1].copy()
        gyr = -gyr[::-1]
        meta["imu_mount"] = np.eye(3).tolist()
    elif variant == "mirror-100hz":  # left and right swapped (y -> -y), 100 Hz
        t, acc, gyr = _decimate(t, acc, gyr, 100.0)
        acc = acc * np.array([1.0, -1.0, 1.0])
        gyr = gyr * np.array([-1.0, 1.0, -1.0])  # an axial vector under a mirror
        meta["imu_mount"] = np.eye(3).tolist()
    else:
        raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    n = len(t)
    return Trace(f"{trace.path}#{variant}", meta, t, acc, gyr, np.ones(n, bool), None, None)
