"""The learned fall score (monitor/safety/fall_model.py): the exported numbers decide as the fitted model did."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.safety import fall_model
from monitor.safety.fall_model import TRAINED, FallModel, features, is_gated, score

CHECK = Path(__file__).resolve().parent / "data" / "fall_model_check.csv"
EPS = 1e-3


def _check_rows():
    with CHECK.open(newline="") as f:
        reader = csv.DictReader(f)
        return [([float(row[k]) for k in fall_model.FEATURES], float(row["fitted_score_logit"]), row["trips"] == "1")
                for row in reader]


def test_exported_model_gives_the_fitted_scores_and_decisions():
    """bench/train_motion.py wrote these rows with the fitted (numpy) score: the
    plain-Python model must give the same score and the same trip decision."""
    rows = _check_rows()
    assert len(rows) > 50
    assert any(trips for _, _, trips in rows) and not all(trips for _, _, trips in rows)
    for inputs, fitted, trips in rows:
        assert score(TRAINED, tuple(inputs)) == pytest.approx(fitted, abs=1e-9)
        assert (score(TRAINED, tuple(inputs)) > TRAINED.threshold_logit) == trips


def test_weights_are_non_negative_so_more_descent_or_tilt_never_lowers_the_score():
    assert len(TRAINED.coefficients) == len(fall_model.FEATURES)
    assert all(w >= 0.0 for w in TRAINED.coefficients)
    base = features(TRAINED, 0.8, 0.3, 0.3, 1.0, 0.5, 1.0)
    for bigger in (features(TRAINED, 1.0, 0.3, 0.3, 1.0, 0.5, 1.0), features(TRAINED, 0.8, 0.3, 0.4, 1.0, 0.5, 1.0),
                   features(TRAINED, 0.8, 0.3, 0.3, 1.5, 0.5, 1.0), features(TRAINED, 0.8, 0.3, 0.3, 1.0, 0.5, 2.0)):
        assert score(TRAINED, bigger) >= score(TRAINED, base)


def test_gate_both_sides():
    m = TRAINED
    old = m.gate_age_s + EPS
    assert is_gated(m, old, m.gate_descent_mps + EPS, m.gate_tilt_rad + EPS)
    assert not is_gated(m, old, m.gate_descent_mps - EPS, m.gate_tilt_rad + EPS)
    assert not is_gated(m, old, m.gate_descent_mps + EPS, m.gate_tilt_rad - EPS)
    # the first second after a start: the upright and the walker's levels are still being learnt
    assert m.gate_age_s > 0.0
    assert not is_gated(m, m.gate_age_s - EPS, m.gate_descent_mps + EPS, m.gate_tilt_rad + EPS)


def test_features_floor_noise_and_normalise_to_the_walker():
    m = replace(TRAINED, gait_floor_mps=0.2)
    ratio, down, tilt, rate_ratio, rate, jolt = features(m, 0.01, 0.01, 0.0, 0.0, 0.5, 0.0)
    assert down == pytest.approx(math.log(fall_model.DESCENT_FLOOR_MPS))
    assert ratio == pytest.approx(math.log(fall_model.DESCENT_FLOOR_MPS / 0.2))  # gait level floored
    assert tilt == pytest.approx(math.log(fall_model.TILT_FLOOR_RAD))
    assert rate == pytest.approx(math.log(fall_model.RATE_FLOOR_RADPS))
    assert rate_ratio == pytest.approx(math.log(fall_model.RATE_FLOOR_RADPS / 0.5))
    assert jolt == pytest.approx(math.log(fall_model.JOLT_RATIO_FLOOR))
    # the same descent is a larger ratio for a calm walker than for a jogger
    calm = features(m, 1.0, 0.25, 0.3, 1.0, 0.5, 1.0)[0]
    jogger = features(m, 1.0, 0.6, 0.3, 1.0, 0.5, 1.0)[0]
    assert calm > jogger


def test_score_is_intercept_plus_weighted_inputs():
    m = FallModel(1.0, (2.0, 0.0, 0.5, 0.0, 0.0, 0.0), 3.0, 0.4, 0.1, 0.2)
    assert score(m, (1.0, 9.0, 2.0, 9.0, 9.0, 9.0)) == pytest.approx(1.0 + 2.0 + 1.0)
