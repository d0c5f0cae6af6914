"""The learned fall score: a logistic regression on features normalised to the walker's own gait.

The model is a product of the walker's own ratios in disguise: its score is a
weighted sum of logarithms, so ``exp(score)`` is (descent / the walker's gait
level)^a x tilt^b x (tilt rate / the walker's rate level)^c x ... The weights
are fitted by ``bench/train_motion.py`` (subject-wise, non-negative: more
descent, tilt or rotation can only raise the score) and exported as plain
numbers into ``monitor/safety/fall_model_trained.py``; nothing here needs numpy.

It is judged only behind a cheap gate (the waist going down fast enough and
the trunk off its upright), so per sample it usually costs two comparisons.
The threshold is the largest score seen in training on normal gait (walking,
jogging, gait initiation, stopping, augmented copies of them) plus a margin,
so it is chosen for zero false trips, not for the best average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monitor.safety import fall_model_trained as _trained

# Names (and units) of the model's inputs, in the order of the coefficients.
FEATURES: tuple[str, ...] = (
    "log_descent_ratio",      # log(downward waist velocity / the walker's gait RMS vertical velocity)
    "log_descent_mps",        # log(downward waist velocity in m/s)
    "log_tilt_rad",           # log(trunk tilt from the walker's own upright, rad)
    "log_tilt_rate_ratio",    # log(trunk tilt rate / the walker's own tilt-rate level)
    "log_tilt_rate_radps",    # log(trunk tilt rate, rad/s)
    "log_jolt_ratio",         # log(held jolt / the walker's own jolt level)
)
# Floors before the logarithms: below these the quantity is noise, not information.
DESCENT_FLOOR_MPS = 0.05
TILT_FLOOR_RAD = 0.01
RATE_FLOOR_RADPS = 0.05
JOLT_RATIO_FLOOR = 0.1


@dataclass(frozen=True)
class FallModel:
    intercept: float
    coefficients: tuple[float, ...]  # one per FEATURES
    threshold_logit: float  # the score must exceed this (before the config's offset)
    gate_descent_mps: float  # judged only while the waist goes down faster than this...
    gate_tilt_rad: float  # ...and the trunk is tilted more than this from its upright
    gait_floor_mps: float  # the walker's gait level never counts as lower than this
    gate_age_s: float = 0.0  # ...and only this long after the detector's start or restart (its levels learnt)


TRAINED: FallModel = FallModel(
    intercept=_trained.INTERCEPT,
    coefficients=_trained.COEFFICIENTS,
    threshold_logit=_trained.THRESHOLD_LOGIT,
    gate_descent_mps=_trained.GATE_DESCENT_MPS,
    gate_tilt_rad=_trained.GATE_TILT_RAD,
    gait_floor_mps=_trained.GAIT_FLOOR_MPS,
    gate_age_s=_trained.GATE_AGE_S,
)


def is_gated(model: FallModel, age_s: float, descent_mps: float, tilt_rad: float) -> bool:
    """True when the model is to be judged at all (the cheap gate). age_s: time since the
    detector started or restarted; the physics rules alone judge the first gate_age_s."""
    return descent_mps > model.gate_descent_mps and tilt_rad > model.gate_tilt_rad and age_s >= model.gate_age_s


def features(model: FallModel, descent_mps: float, gait_rms_mps: float, tilt_rad: float,
             tilt_rate_radps: float, rate_level_radps: float, jolt_ratio: float) -> tuple[float, ...]:
    """The model's inputs (FEATURES) from the detector's quantities."""
    log = math.log
    down = descent_mps if descent_mps > DESCENT_FLOOR_MPS else DESCENT_FLOOR_MPS
    gait = gait_rms_mps if gait_rms_mps > model.gait_floor_mps else model.gait_floor_mps
    tilt = tilt_rad if tilt_rad > TILT_FLOOR_RAD else TILT_FLOOR_RAD
    rate = tilt_rate_radps if tilt_rate_radps > RATE_FLOOR_RADPS else RATE_FLOOR_RADPS
    jolt = jolt_ratio if jolt_ratio > JOLT_RATIO_FLOOR else JOLT_RATIO_FLOOR
    return (log(down / gait), log(down), log(tilt), log(rate / rate_level_radps), log(rate), log(jolt))


def score(model: FallModel, inputs: tuple[float, ...]) -> float:
    """The log-odds of "falling now" for one sample's inputs."""
    total = model.intercept
    for weight, x in zip(model.coefficients, inputs):
        total += weight * x
    return total
