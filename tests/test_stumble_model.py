"""The learned stumble score (monitor/safety/stumble_model.py): the exported numbers decide as the
fitted model did, and the detector uses it behind its gate, explains it, and can switch it off."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.safety import stumble_model
from monitor.safety.motion import MotionDetector, MotionParams, classify
from monitor.safety.stumble_model import TRAINED, StumbleModel, features, is_gated, score

CHECK = Path(__file__).resolve().parent / "data" / "stumble_model_check.csv"
EPS = 1e-3
G = 9.80665
P = MotionParams()


def _check_rows():
    with CHECK.open(newline="") as f:
        reader = csv.DictReader(f)
        return [([float(row[k]) for k in stumble_model.FEATURES], float(row["fitted_score_logit"]),
                 row["trips"] == "1") for row in reader]


def test_exported_model_gives_the_fitted_scores_and_decisions():
    """bench/train_motion.py wrote these rows with the fitted (numpy) score: the
    plain-Python model must give the same score and the same trip decision."""
    rows = _check_rows()
    assert len(rows) > 50
    assert any(trips for _, _, trips in rows) and not all(trips for _, _, trips in rows)
    for inputs, fitted, trips in rows:
        assert score(TRAINED, tuple(inputs)) == pytest.approx(fitted, abs=1e-9)
        assert (score(TRAINED, tuple(inputs)) > TRAINED.threshold_logit) == trips


def test_weights_are_non_negative_so_a_larger_jolt_rotation_or_sag_never_lowers_the_score():
    assert len(TRAINED.coefficients) == len(stumble_model.FEATURES)
    assert all(w >= 0.0 for w in TRAINED.coefficients)
    base = features(TRAINED, 3.0, 4.0, 1.0, 0.5, 0.3, 0.3, 0.1)
    for bigger in (features(TRAINED, 4.0, 4.0, 1.0, 0.5, 0.3, 0.3, 0.1),
                   features(TRAINED, 3.0, 4.0, 1.5, 0.5, 0.3, 0.3, 0.1),
                   features(TRAINED, 3.0, 4.0, 1.0, 0.5, 0.6, 0.3, 0.1),
                   features(TRAINED, 3.0, 4.0, 1.0, 0.5, 0.3, 0.3, 0.2)):
        assert score(TRAINED, bigger) >= score(TRAINED, base)


def test_gate_both_sides():
    assert is_gated(TRAINED, TRAINED.gate_jolt_score_ratio + EPS)
    assert not is_gated(TRAINED, TRAINED.gate_jolt_score_ratio)  # the gate is "more than", not "at least"
    assert not is_gated(TRAINED, TRAINED.gate_jolt_score_ratio - EPS)


def test_features_floor_noise_and_normalise_to_the_walker():
    m = replace(TRAINED, gait_floor_mps=0.2)
    jolt_ratio, rate_ratio, descent_ratio, tilt, jolt, rate = features(m, 0.0, 4.0, 0.0, 0.5, -1.0, 0.01, 0.0)
    assert jolt_ratio == pytest.approx(math.log(stumble_model.JOLT_RATIO_FLOOR))
    assert jolt == pytest.approx(math.log(stumble_model.JOLT_FLOOR_MPS2))
    assert rate == pytest.approx(math.log(stumble_model.RATE_FLOOR_RADPS))
    assert rate_ratio == pytest.approx(math.log(stumble_model.RATE_FLOOR_RADPS / 0.5))
    assert descent_ratio == pytest.approx(math.log(stumble_model.DESCENT_FLOOR_MPS / 0.2))  # gait level floored
    assert tilt == pytest.approx(math.log(stumble_model.TILT_FLOOR_RAD))
    assert features(m, 3.0, 4.0, 1.0, 0.5, 0.3, 0.3, 0.1)[4] == pytest.approx(math.log(12.0))  # ratio x level
    # the same rotation is a larger ratio for a calm walker than for a jogger
    assert features(m, 3.0, 4.0, 1.0, 0.3, 0.3, 0.3, 0.1)[1] > features(m, 3.0, 4.0, 1.0, 1.2, 0.3, 0.3, 0.1)[1]


def test_features_above_their_floors_are_the_walkers_own_values():
    m = replace(TRAINED, gait_floor_mps=0.2)
    jolt_ratio, rate_ratio, descent_ratio, tilt, jolt, rate = features(m, 3.0, 4.0, 1.5, 0.5, 0.6, 0.4, 0.3)
    assert jolt_ratio == pytest.approx(math.log(3.0))
    assert rate_ratio == pytest.approx(math.log(1.5 / 0.5))
    assert descent_ratio == pytest.approx(math.log(0.6 / 0.4))  # descent and gait level both above their floors
    assert tilt == pytest.approx(math.log(0.3))
    assert jolt == pytest.approx(math.log(12.0))
    assert rate == pytest.approx(math.log(1.5))


def test_score_is_intercept_plus_weighted_inputs():
    m = StumbleModel(1.0, (2.0, 0.0, 0.5, 0.0, 0.0, 0.0), 3.0, 3.0, 0.2)
    assert score(m, (1.0, 9.0, 2.0, 9.0, 9.0, 9.0)) == pytest.approx(1.0 + 2.0 + 1.0)


# --- in the detector ----------------------------------------------------------------

def test_learned_stumble_rule_both_sides_of_its_threshold():
    quiet = dict(tilt_rad=0.05, vertical_velocity_mps=0.0, tilt_rate_radps=0.2, gait_rms_velocity_mps=0.2,
                 inclination_change_rad=0.0, jolt_score_ratio=1.0)
    assert classify(P, **quiet, stumble_model_excess_logit=EPS) == "stumble_model"
    assert classify(P, **quiet, stumble_model_excess_logit=-EPS) is None
    assert classify(P, **quiet) is None  # not judged at this sample
    # the physics jolt rule, the backstop, is named first when both fire
    loud = dict(quiet, jolt_score_ratio=P.stumble_jolt_score_ratio + EPS, vertical_velocity_mps=-0.3)
    assert classify(P, **loud, stumble_model_excess_logit=EPS) == "jolt"


def _walk_then_jolt(d: MotionDetector, jolt_mps2: float):
    """Calm walking (heel strikes with a small trunk rotation), then one jolt with a trunk
    rotation of 1.2 rad/s: a mild stumble, under the physics jolt rule's threshold."""
    t = 0.0
    for i in range(int(12 / 0.005)):
        t = i * 0.005
        bump = 3.0 if (t % 0.5) < 0.1 else 0.0
        found = d.update(t, 0.0, 0.0, G + bump, 0.4 * math.sin(math.pi * t / 0.5), 0.0, 0.0)
        assert found is None, t
    found = None
    for i in range(1, 40):
        t += 0.005
        found = found or d.update(t, jolt_mps2 if i < 10 else 0.0, 0.0, G, 1.2, 0.0, 0.0)
    return found


def _eager(gate: float = 2.0) -> StumbleModel:
    """A model that fires on any gated sample: the jolt ratio alone, a low threshold."""
    return StumbleModel(0.0, (1.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0, gate, 0.2)


def test_a_mild_stumble_trips_the_learned_rule_and_is_explained_with_its_terms():
    found = _walk_then_jolt(MotionDetector(P, stumbles=_eager()), 0.8 * G)
    assert found is not None and found.reason == "stumble" and "rule_stumble_model" in found.values
    v = found.values
    assert v["jolt_score_ratio"] < P.stumble_jolt_score_ratio  # the physics rule alone would not have
    assert v["stumble_model_score_logit"] > v["stumble_model_threshold_logit"]
    for name, weight in zip(stumble_model.FEATURES, _eager().coefficients):
        shown = "stumble_model_" + name in v and "stumble_model_term_" + name + "_logit" in v
        assert shown == (weight != 0.0)  # the inputs that carry weight, and only those


def test_the_learned_stumble_rule_can_be_switched_off_and_offset():
    assert _walk_then_jolt(MotionDetector(replace(P, stumble_model_enabled=False), stumbles=_eager()),
                           0.8 * G) is None
    assert _walk_then_jolt(MotionDetector(replace(P, stumble_model_offset_logit=20.0), stumbles=_eager()),
                           0.8 * G) is None


def test_behind_its_gate_the_learned_rule_is_not_judged():
    d = MotionDetector(P, stumbles=_eager(gate=P.stumble_jolt_score_ratio - EPS))
    assert _walk_then_jolt(d, 0.8 * G) is None
    assert d.stumble_score_logit == -math.inf  # and the score says so: not judged at this sample
