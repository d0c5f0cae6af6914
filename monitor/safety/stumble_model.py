"""The learned stumble score: a logistic regression on a jolt, a trunk rotation and a sag, each against the walker's own.

Like the fall score (monitor/safety/fall_model.py) its score is a weighted sum
of logarithms, so ``exp(score)`` is a product of powers of the walker's own
ratios: (jolt / their jolt level)^a x (trunk rate / their rate level)^b x
(descent / their gait level)^c x ... The physics jolt rule is one such product
with fixed powers (1, 1); the fit chooses the powers, from stumbles and from
normal gait of many people. Fitted by ``bench/train_motion.py`` (subject-wise,
non-negative: a larger jolt, rotation or sag can only raise the score) and
exported as plain numbers into ``monitor/safety/stumble_model_trained.py``;
nothing here needs numpy.

It is judged only behind a cheap gate (the physics jolt score above a low bar,
one comparison per sample otherwise). The threshold is the largest score seen
in training on normal gait (walking, jogging, gait initiation, stopping,
treadmill walking after a stroke, augmented copies of them) plus a margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monitor.safety import stumble_model_trained as _trained

# Names (and units) of the model's inputs, in the order of the coefficients.
FEATURES: tuple[str, ...] = (
    "log_jolt_ratio",         # log(held jolt / the walker's own jolt level)
    "log_tilt_rate_ratio",    # log(trunk tilt rate / the walker's own tilt-rate level)
    "log_descent_ratio",      # log(downward waist velocity / the walker's gait RMS vertical velocity)
    "log_tilt_rad",           # log(trunk tilt from the walker's own upright, rad)
    "log_jolt_mps2",          # log(held jolt, m/s²)
    "log_tilt_rate_radps",    # log(trunk tilt rate, rad/s)
)
# Floors before the logarithms: below these the quantity is noise, not information.
JOLT_RATIO_FLOOR = 0.1
RATE_FLOOR_RADPS = 0.05
DESCENT_FLOOR_MPS = 0.05
TILT_FLOOR_RAD = 0.01
JOLT_FLOOR_MPS2 = 0.5


@dataclass(frozen=True)
class StumbleModel:
    intercept: float
    coefficients: tuple[float, ...]  # one per FEATURES
    threshold_logit: float  # the score must exceed this (before the config's offset)
    gate_jolt_score_ratio: float  # judged only while the physics jolt score exceeds this
    gait_floor_mps: float  # the walker's gait level never counts as lower than this


TRAINED = StumbleModel(
    intercept=_trained.INTERCEPT,
    coefficients=_trained.COEFFICIENTS,
    threshold_logit=_trained.THRESHOLD_LOGIT,
    gate_jolt_score_ratio=_trained.GATE_JOLT_SCORE_RATIO,
    gait_floor_mps=_trained.GAIT_FLOOR_MPS,
)


def is_gated(model: StumbleModel, jolt_score_ratio: float) -> bool:
    """True when the model is to be judged at all (the cheap gate)."""
    return jolt_score_ratio > model.gate_jolt_score_ratio


def features(model: StumbleModel, jolt_ratio: float, jolt_level_mps2: float, tilt_rate_radps: float,
             rate_level_radps: float, descent_mps: float, gait_rms_mps: float,
             tilt_rad: float) -> tuple[float, ...]:
    """The model's inputs (FEATURES) from the detector's quantities."""
    log = math.log
    ratio = jolt_ratio if jolt_ratio > JOLT_RATIO_FLOOR else JOLT_RATIO_FLOOR
    jolt = jolt_ratio * jolt_level_mps2
    if jolt < JOLT_FLOOR_MPS2:
        jolt = JOLT_FLOOR_MPS2
    rate = tilt_rate_radps if tilt_rate_radps > RATE_FLOOR_RADPS else RATE_FLOOR_RADPS
    down = descent_mps if descent_mps > DESCENT_FLOOR_MPS else DESCENT_FLOOR_MPS
    gait = gait_rms_mps if gait_rms_mps > model.gait_floor_mps else model.gait_floor_mps
    tilt = tilt_rad if tilt_rad > TILT_FLOOR_RAD else TILT_FLOOR_RAD
    return (log(ratio), log(rate / rate_level_radps), log(down / gait), log(tilt), log(jolt), log(rate))


def score(model: StumbleModel, inputs: tuple[float, ...]) -> float:
    """The log-odds of "stumbling now" for one sample's inputs."""
    total = model.intercept
    for weight, x in zip(model.coefficients, inputs):
        total += weight * x
    return total
