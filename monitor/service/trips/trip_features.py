"""The motion detector's features over a trace, for plots: the one place that knows its attributes.

`detector_features` plays a trace's IMU samples through the real
monitor.safety.motion.MotionDetector, as the core feeds it (the mount, or the
vertical found from gravity; a failed read or a hole breaks the filters'
continuity), and after each sample reads the detector's public state. When the
detector changes, only FEATURES (and at most this function) change.

The detector starts fresh at the first sample, as the core did at its start: on
a trip record, which begins a few seconds before the trip, the first second is
its warm-up and its levels may differ from those the daemon had built up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.config.schema import Config
from monitor.formats.trace_format import Trace
from monitor.safety import mount as mount_
from monitor.safety.motion import MotionDetector


@dataclass(frozen=True)
class Feature:
    name: str  # the detector attribute read after each sample
    label: str  # axis label, with the unit
    sign: float  # shown as sign x attribute (the waist's speed is drawn downward-positive)
    thresholds: tuple[tuple[str, str], ...]  # (MotionParams field or detector attribute, what crossing it means)
    recorded_as: str  # the name of this value in a trip's recorded values (Finding.values)


FEATURES: tuple[Feature, ...] = (
    Feature("tilt_rad", "trunk tilt (rad)", 1.0,
            (("fall_drop_tilt_rad", "fall (with a drop)"), ("fall_topple_tilt_rad", "fall (topple)")), "tilt_rad"),
    Feature("v_mps", "waist going down (m/s)", -1.0,
            (("fall_drop_velocity_mps", "fall (drop)"), ("stumble_velocity_mps", "stumble (sag)"),
             ("fall_topple_velocity_mps", "fall (topple)")), "vertical_velocity_mps"),
    Feature("w_radps", "trunk turning (rad/s)", 1.0,
            (("fall_topple_rate_radps", "fall (topple)"), ("stumble_rate_radps", "stumble (sag)")), "tilt_rate_radps"),
    Feature("jolt_score", "jolt score (x usual)", 1.0,
            (("stumble_jolt_score_ratio", "stumble (jolt)"),), "jolt_score_ratio"),
    # the learned scores: drawn only where they were judged (behind their gates), else a gap
    Feature("model_score_logit", "learned fall score (log-odds)", 1.0,
            (("model_threshold_logit", "fall (learned)"),), "model_score_logit"),
    Feature("stumble_score_logit", "learned stumble score (log-odds)", 1.0,
            (("stumble_threshold_logit", "stumble (learned)"),), "stumble_model_score_logit"),
)
# the thresholds the detector holds itself (a trained value plus the configured offset)
DETECTOR_THRESHOLDS = ("model_threshold_logit", "stumble_threshold_logit")


@dataclass(frozen=True)
class Features:
    t_s: np.ndarray  # the times of the samples the detector took
    values: dict[str, np.ndarray]  # Feature.name -> sign-adjusted values, one per sample
    thresholds: dict[str, float]  # MotionParams field -> its value


def detector_features(trace: Trace, config: Config) -> Features:
    detector = MotionDetector(config.motion)
    rotation = mount_.from_matrix(trace.imu_mount.tolist()) if trace.imu_mount is not None else None
    hole_s = config.imu.timeout_s  # as the core: samples further apart than this are a hole
    times: list[float] = []
    rows: list[tuple[float, ...]] = []
    names = [f.name for f in FEATURES]
    last_t_s: float | None = None
    raw = np.column_stack([trace.t_s, trace.accel_mps2, trace.gyro_radps]).tolist()
    for (t_s, ax, ay, az, gx, gy, gz), ok in zip(raw, trace.imu_ok.tolist()):
        if not ok:
            detector.gap()
            continue
        if rotation is None:
            rotation = mount_.from_gravity(ax, ay, az)
        if last_t_s is not None and t_s - last_t_s > hole_s:
            detector.gap()
        last_t_s = t_s
        r = rotation
        detector.update(t_s, r[0] * ax + r[1] * ay + r[2] * az, r[3] * ax + r[4] * ay + r[5] * az,
                        r[6] * ax + r[7] * ay + r[8] * az, r[0] * gx + r[1] * gy + r[2] * gz,
                        r[3] * gx + r[4] * gy + r[5] * gz, r[6] * gx + r[7] * gy + r[8] * gz)
        times.append(t_s)
        rows.append(tuple(getattr(detector, n) for n in names))
    table = np.array(rows, dtype=float).reshape(-1, len(names))
    table[np.isinf(table)] = np.nan  # a learned score not judged at a sample: nothing to draw
    values = {f.name: f.sign * table[:, i] for i, f in enumerate(FEATURES)}
    thresholds = {field: float(getattr(detector if field in DETECTOR_THRESHOLDS else config.motion, field))
                  for f in FEATURES for field, _ in f.thresholds}
    return Features(np.array(times, dtype=float), values, thresholds)
