"""Builds the traces that test stopped-stepping drift from real recordings: a
belt column added to real walking, and real standing spliced into real walking.

Bench only: nothing in the package imports this. Every trace it builds keeps to
the trace format (t strictly increasing at the walking recording's own rate,
SI units, the walking recording's sensor frame and `imu_mount`), and says in
its `source` and `label` what was done to it.

The reference steps here are found with hindsight (a zero-phase band-pass and
its peaks), for scoring only: the monitor never sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from monitor.formats.trace_format import Trace
from monitor.safety import mount as mount_

BELT_READING_S = 0.05  # the pulse sensor's reading interval on the bench treadmill
BAND_HZ = (0.5, 3.0)  # the band the reference steps are found in
CROSSFADE_S = 0.1  # walking fades into standing over this long, so the splice is no jolt


def vertical_mps2(trace: Trace) -> np.ndarray:
    """The vertical specific force, found the way the monitor finds it: from the
    mount, or, without one, from gravity in the first sample."""
    accel = trace.accel_mps2
    if trace.imu_mount is not None:
        rotation = np.asarray(trace.imu_mount)
    else:
        rotation = np.array(mount_.from_gravity(*accel[0])).reshape(3, 3)
    return (accel @ rotation.T)[:, 2]


def rate_hz(trace: Trace) -> float:
    return float(1.0 / np.median(np.diff(trace.t_s)))


def band_pass(x: np.ndarray, fs_hz: float, band_hz: tuple[float, float] = BAND_HZ) -> np.ndarray:
    """Zero-phase band-pass (FFT, mirrored ends): hindsight, for the reference only."""
    pad = min(len(x) - 1, int(2 * fs_hz))
    padded = np.concatenate([x[pad:0:-1], x, x[-2:-pad - 2:-1]])
    spectrum = np.fft.rfft(padded - padded.mean())
    freq = np.fft.rfftfreq(len(padded), 1.0 / fs_hz)
    spectrum[(freq < band_hz[0]) | (freq > band_hz[1])] = 0.0
    return np.fft.irfft(spectrum, len(padded))[pad:pad + len(x)]


def reference_steps(trace: Trace) -> np.ndarray:
    """Times of the steps, with hindsight: peaks of the band-passed vertical
    acceleration above half its local (2 s) RMS and 0.3 m/s², at least 0.25 s apart."""
    fs = rate_hz(trace)
    z = band_pass(vertical_mps2(trace), fs)
    n = max(1, int(2 * fs))
    rms = np.sqrt(np.convolve(z * z, np.ones(n) / n, "same"))
    is_peak = (z[1:-1] > z[:-2]) & (z[1:-1] >= z[2:]) & (z[1:-1] > 0.5 * rms[1:-1]) & (z[1:-1] > 0.3)
    peaks: list[int] = []
    closest = int(0.25 * fs)
    for i in np.flatnonzero(is_peak) + 1:
        if peaks and i - peaks[-1] < closest:
            if z[i] > z[peaks[-1]]:
                peaks[-1] = int(i)
            continue
        peaks.append(int(i))
    return trace.t_s[np.array(peaks, dtype=int)] if peaks else np.array([])


def with_belt(trace: Trace, speed_mps: float, on_s: float, off_s: float, note: str = "") -> Trace:
    """The trace with a belt_mps column: a reading every BELT_READING_S, the belt
    at speed_mps from on_s to off_s and stopped (0 m/s) before and after."""
    t = trace.t_s
    belt = np.full(len(t), np.nan)
    next_s = -math.inf
    for i, ts in enumerate(t):
        if ts >= next_s:
            belt[i] = speed_mps if on_s <= ts <= off_s else 0.0
            next_s = ts + BELT_READING_S
    meta = dict(trace.meta)
    meta["source"] = (f"{trace.meta.get('source', 'a recording')}; belt_mps added by treadguard's bench: "
                      f"{speed_mps:g} m/s from {on_s - t[0]:.2f} s to {off_s - t[0]:.2f} s{note}")
    return Trace(trace.path, meta, t, trace.accel_mps2, trace.gyro_radps, trace.imu_ok, belt, trace.range_m)


@dataclass(frozen=True)
class Standing:
    """Quiet standing from a recording: the IMU samples, in that recording's sensor frame."""

    source: str
    subject: str
    t_s: np.ndarray
    accel_mps2: np.ndarray
    gyro_radps: np.ndarray


def standing_from(trace: Trace, subject: str, start_s: float, end_s: float) -> Standing:
    keep = (trace.t_s >= start_s) & (trace.t_s <= end_s)
    return Standing(f"{trace.path} {start_s - trace.t_s[0]:.2f}-{end_s - trace.t_s[0]:.2f} s", subject,
                    trace.t_s[keep] - trace.t_s[keep][0], trace.accel_mps2[keep], trace.gyro_radps[keep])


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction a onto direction b."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1.0 + 1e-9:
        return -np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def splice_stop(walk: Trace, standing: Standing, cut_s: float, *, last_step_s: float, step_period_s: float,
                lead_s: float = 15.0) -> Trace:
    """Real walking up to cut_s (from lead_s before it), then real standing: a
    walker who stops stepping. The standing is resampled to the walking rate and
    turned so its gravity lies where the walking recording's does (the mean of
    its last 2 s), its length scaled to match, and walking crossfades into it."""
    fs = rate_hz(walk)
    keep = (walk.t_s >= cut_s - lead_s) & (walk.t_s <= cut_s)
    t_walk = walk.t_s[keep]
    accel_walk = walk.accel_mps2[keep]
    gyro_walk = walk.gyro_radps[keep]
    n_stand = int(standing.t_s[-1] * fs)
    grid = np.arange(n_stand) / fs
    accel_stand = np.column_stack([np.interp(grid, standing.t_s, standing.accel_mps2[:, k]) for k in range(3)])
    gyro_stand = np.column_stack([np.interp(grid, standing.t_s, standing.gyro_radps[:, k]) for k in range(3)])
    gravity_walk = accel_walk[t_walk >= cut_s - 2.0].mean(axis=0)
    gravity_stand = accel_stand[: max(1, int(0.5 * fs))].mean(axis=0)
    turn = _rotation_between(gravity_stand, gravity_walk)
    scale = np.linalg.norm(gravity_walk) / np.linalg.norm(gravity_stand)
    accel_stand = accel_stand @ turn.T * scale
    gyro_stand = gyro_stand @ turn.T
    fade = min(int(CROSSFADE_S * fs), len(t_walk), n_stand)
    w = np.linspace(1.0, 0.0, fade)[:, None]
    accel_walk = accel_walk.copy()
    gyro_walk = gyro_walk.copy()
    accel_walk[-fade:] = accel_walk[-fade:] * w + accel_stand[:fade] * (1 - w)
    gyro_walk[-fade:] = gyro_walk[-fade:] * w + gyro_stand[:fade] * (1 - w)
    accel = np.vstack([accel_walk, accel_stand[fade:]])
    gyro = np.vstack([gyro_walk, gyro_stand[fade:]])
    t = t_walk[0] + np.arange(len(accel)) / fs
    t[: len(t_walk)] = t_walk  # the walking keeps its own (jittered) clock
    t[len(t_walk):] = t_walk[-1] + np.arange(1, len(t) - len(t_walk) + 1) / fs
    meta = {k: v for k, v in walk.meta.items() if k in ("imu_mount", "walking")}
    meta["source"] = (f"treadguard bench splice: {walk.path} up to {cut_s - walk.t_s[0]:.2f} s, then standing from "
                      f"{standing.source}")
    meta["label"] = {"event": "stop", "last_step_s": round(float(last_step_s), 4),
                     "step_period_s": round(float(step_period_s), 4)}
    return Trace(walk.path + f"#stop@{cut_s - walk.t_s[0]:.2f}", meta, t, accel, gyro, np.ones(len(t), bool))
