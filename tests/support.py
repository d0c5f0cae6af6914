"""Shared test support: synthetic sensor data, real recordings, and a way to drive the core tick by tick."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.mount import IDENTITY

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SISFALL = SHARED / "data" / "sisfall-dev"
G = 9.80665
IDENTITY_MOUNT = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
assert tuple(v for row in IDENTITY_MOUNT for v in row) == IDENTITY


def sisfall(name: str) -> Path:
    path = SISFALL / f"sisfall-{name}.csv.gz"
    if not path.exists():
        pytest.skip(f"real recordings not found at {SISFALL}")
    return path


def with_settings(config: Config = Config(), **sections) -> Config:
    """A Config with some settings replaced: with_settings(imu={"timeout_s": 0.1})."""
    return dataclasses.replace(config, **{
        name: dataclasses.replace(getattr(config, name), **values) for name, values in sections.items()})


def standing(t0_s: float, t1_s: float, rate_hz: float = 256.0, seed: int = 1) -> list[tuple]:
    """A person standing still: gravity on z plus a little sensor noise, identity mount."""
    rng = np.random.default_rng(seed)
    n = max(0, int(round((t1_s - t0_s) * rate_hz)))
    t = t0_s + np.arange(n) / rate_hz
    accel = rng.normal(0.0, 0.05, (n, 3)) + [0.0, 0.0, G]
    gyro = rng.normal(0.0, 0.01, (n, 3))
    return [tuple(row) for row in np.column_stack([t, accel, gyro]).tolist()]


class Driver:
    """Drives a core the way the daemon does: samples up to each tick, then the tick."""

    def __init__(self, config: Config = Config(), *, start_s: float = 0.0, **core_args) -> None:
        core_args.setdefault("imu_mount", IDENTITY_MOUNT)
        core_args.setdefault("has_belt", False)
        core_args.setdefault("has_range", False)
        self.core = SafetyCore(config, start_s=start_s, **core_args)
        self.pending: list[tuple] = []
        self.verdicts = []

    def imu(self, samples) -> "Driver":
        self.pending.extend(samples)
        return self

    def tick(self, now_s: float):
        due = [s for s in self.pending if s[0] <= now_s]
        self.pending = [s for s in self.pending if s[0] > now_s]
        self.core.ingest_imu(due)
        verdict = self.core.tick(now_s)
        self.verdicts.append(verdict)
        return verdict

    def arm(self, now_s: float):
        self.core.request_reset()
        verdict = self.tick(now_s)
        assert verdict.is_relay_energized, verdict.problems
        return verdict

    def details(self, now_s: float) -> list[str]:
        return [p.detail for p in self.tick(now_s).problems]


def armed(config: Config = Config(), **core_args) -> Driver:
    """A core that stood still for a second (256 Hz samples), was armed at 0 s and has run armed
    for a second of 64 Hz ticks: where most core tests start."""
    d = Driver(config, **core_args)
    d.imu(standing(0.0, 1.0, 256.0))
    d.arm(0.0)
    for k in range(1, 65):
        assert d.tick(k / 64).is_relay_energized
    return d


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def standing_trace(path: Path, *, rate_hz: float = 200.0, duration_s: float = 20.0, seed: int = 0,
                   jitter: float = 0.0, mount_known: bool = True, t0_s: float = 0.0,
                   with_belt: bool = False, with_range: bool = False):
    """A person standing quietly on a stopped belt, seen by an IMU mounted at a random
    angle: gravity, a slow sway, sensor noise and quantization, in the sensor frame."""
    from monitor.formats.trace_format import Trace

    rng = np.random.default_rng(seed)
    n = int(duration_s * rate_hz)
    period = 1.0 / rate_hz
    t = t0_s + np.arange(n) * period + rng.uniform(0, jitter * period, n)
    sway = 2 * np.pi * 0.3 * t
    accel_tm = np.column_stack([0.3 * np.sin(sway), 0.2 * np.cos(sway), np.full(n, G)])
    gyro_tm = np.column_stack([0.05 * np.cos(sway), -0.04 * np.sin(sway), 0.02 * np.sin(0.5 * sway)])
    accel_tm += rng.normal(0, 0.04, (n, 3))
    gyro_tm += rng.normal(0, 0.004, (n, 3))
    mount = random_rotation(rng)  # v_treadmill = mount . v_sensor
    accel = np.round(accel_tm @ mount / 0.0383) * 0.0383  # back to the sensor frame, ADXL345 steps
    gyro = np.round(gyro_tm @ mount / 0.00121) * 0.00121
    meta = {"source": "synthetic quiet standing", "walking": "forward"}
    if mount_known:
        meta["imu_mount"] = mount.tolist()
    belt = range_m = None
    if with_belt:
        belt = np.where(np.arange(n) % max(1, int(rate_hz / 10)) == 0, 0.0, np.nan)
    if with_range:
        meta["rear_edge_m"] = 1.6
        range_m = np.where(np.arange(n) % max(1, int(rate_hz / 20)) == 0, 0.7 + 0.01 * np.sin(sway), np.nan)
    return Trace(str(path), meta, t, accel, gyro, np.ones(n, bool), belt, range_m)
