"""What the detector decides and records through update(): each rule reached whatever its configured velocity, the learned stumble score's record, restarts and start-up levels.

classify() alone is tested in test_motion_boundaries.py; here the same rules are
reached through the detector, so a sample that the detector never hands to
classify() (its quick "nothing is moving down" path) is a failing test.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from monitor.safety import fall_model, stumble_model
from monitor.safety.motion import MotionDetector, MotionParams

G = 9.80665
RATE_HZ = 200.0
NO_MODELS = MotionParams(fall_model_enabled=False, stumble_model_enabled=False)


def stand(d: MotionDetector, t0_s: float, t1_s: float) -> None:
    """Perfectly still and upright; nothing may be found."""
    n = round((t1_s - t0_s) * RATE_HZ)
    for k in range(n):
        assert d.update(t0_s + k / RATE_HZ, 0.0, 0.0, G, 0.0, 0.0, 0.0) is None


def pitch_over(d: MotionDetector, t0_s: float, rate_radps: float, bend_s: float, force_g: float = 0.75):
    """The trunk pitches forward at rate_radps; for the first bend_s the waist keeps its height
    (a bend), then it accelerates down (the specific force falls to force_g) while the trunk
    keeps pitching. The first finding, or None after a second."""
    theta = 0.0
    for k in range(1, round(RATE_HZ) + 1):
        theta += rate_radps / RATE_HZ
        f = (1.0 if k / RATE_HZ <= bend_s else force_g) * G
        found = d.update(t0_s + k / RATE_HZ, -f * math.sin(theta), 0.0, f * math.cos(theta), 0.0, rate_radps, 0.0)
        if found is not None:
            return found
    return None


def rule_of(found) -> str:
    return next(name[len("rule_"):] for name in found.values if name.startswith("rule_"))


FAST = dict(fall_drop_velocity_mps=5.0, fall_topple_velocity_mps=5.0, stumble_velocity_mps=5.0)


# -- every rule is reached at its own velocity, even when it is the lowest of the three -------------

@pytest.mark.parametrize("rule,velocities,rate_radps,bend_s,reason", [
    ("drop", dict(fall_drop_velocity_mps=0.2), 1.0, 0.5, "fall"),
    ("topple", dict(fall_topple_velocity_mps=0.0), 2.0, 0.3, "fall"),
    ("stumble", dict(stumble_velocity_mps=0.1, gait_rms_initial_mps=0.0), 1.0, 0.5, "stumble"),
])
def test_each_rule_fires_at_its_own_velocity_even_when_the_others_ask_far_more(rule, velocities, rate_radps,
                                                                                bend_s, reason):
    """The other two rules' velocities set to 5 m/s (their most): a bending trunk whose waist
    then begins to sag is found by the rule whose own velocity the sag passes first, as soon
    as it passes it (well under the learned fall score's gate of 0.4 m/s too)."""
    d = MotionDetector(replace(NO_MODELS, **{**FAST, **velocities}))
    stand(d, 0.0, 3.0)
    found = pitch_over(d, 3.0, rate_radps, bend_s)
    assert found is not None and found.reason == reason and rule_of(found) == rule
    own = next(iter(velocities.values()))
    assert own < -found.values["vertical_velocity_mps"] < own + 0.1


def test_with_every_velocity_at_its_most_the_same_pitch_is_not_found():
    """The other side: the same falling trunk, no rule's velocity passed, the jolt too mild."""
    d = MotionDetector(replace(NO_MODELS, **FAST))
    stand(d, 0.0, 3.0)
    assert pitch_over(d, 3.0, 2.0, 0.3) is None


def test_the_learned_fall_score_is_judged_from_its_own_gate_whatever_the_rules_velocities():
    """The rules' velocities raised to 1 m/s, the learned fall score's gate is still 0.4 m/s:
    a trunk tilting while the waist sinks past 0.4 m/s is judged by the model (here one that
    always says "fall") before any rule's velocity is reached."""
    eager = replace(fall_model.TRAINED, intercept=100.0)
    params = MotionParams(fall_drop_velocity_mps=1.0, fall_topple_velocity_mps=1.0, stumble_velocity_mps=1.0,
                          stumble_model_enabled=False)
    d = MotionDetector(params, eager)
    stand(d, 0.0, 3.0)
    found = pitch_over(d, 3.0, 0.5, 0.3, force_g=0.9)
    assert found is not None and found.reason == "fall" and rule_of(found) == "model"
    assert 0.4 < -found.values["vertical_velocity_mps"] < 0.5


# -- the learned stumble score: judged past its gate, recorded with its inputs and terms ---------

def _eager_stumble_model() -> stumble_model.StumbleModel:
    return replace(stumble_model.TRAINED, intercept=100.0)  # fires whenever it is judged


def test_a_stumble_judged_by_the_learned_score_records_its_inputs_and_terms():
    """A hard forward jolt with a fast sideways roll of the trunk while the waist sags: the
    jolt score passes the model's gate (3) long before the jolt rule's 12.3, and the finding
    records the score, its threshold, and each input that carries weight with its term (the
    terms `trips show` lists when it explains a learned stumble)."""
    model = _eager_stumble_model()
    d = MotionDetector(replace(MotionParams(), fall_model_enabled=False), stumbles=model)
    stand(d, 0.0, 3.0)
    found = None
    for k in range(1, 41):
        found = d.update(3.0 + k / RATE_HZ, 20.0, 0.0, 0.3 * G, 3.0, 0.0, 0.0)
        if found is not None:
            break
    assert found is not None and found.reason == "stumble" and rule_of(found) == "stumble_model"
    assert d.jolt_score > 3.0 and -d.v_mps > 0.05  # judged past the gate, the waist going down
    values = dict(found.values)
    model_part = {name: values.pop(name) for name in list(values) if name.startswith("stumble_model_")}
    jolt_level = max(math.sqrt(d.jolt_ms), d.p.jolt_level_min_mps2)
    inputs = stumble_model.features(model, d.jolt_ratio_held, jolt_level, d.w_radps, d.rate_level_radps,
                                    -d.v_mps, math.sqrt(d.gait_ms), d.tilt_rad)
    expected = {"stumble_model_score_logit": stumble_model.score(model, inputs),
                "stumble_model_threshold_logit": model.threshold_logit}
    for name, weight, x in zip(stumble_model.FEATURES, model.coefficients, inputs):
        if weight:
            expected["stumble_model_" + name] = x
            expected["stumble_model_term_" + name + "_logit"] = weight * x
    assert model_part == pytest.approx(expected, abs=1e-12)
    assert d.stumble_score_logit == pytest.approx(expected["stumble_model_score_logit"], abs=1e-12)


def test_a_sample_that_is_not_judged_reports_no_learned_score():
    """Quiet standing: neither model is judged, and each score reads minus infinity (the
    bench takes the worst score over normal walking; a stale or missing one would lie)."""
    d = MotionDetector()
    assert d.model_score_logit == -math.inf and d.stumble_score_logit == -math.inf
    stand(d, 0.0, 1.0)
    assert d.model_score_logit == -math.inf and d.stumble_score_logit == -math.inf


# -- restarts and the first samples ------------------------------------------------------------------

def test_after_a_hole_the_warm_up_starts_again():
    """A hard jolt with a fast trunk turn (a jolt rule set to 1 so it surely fires) right
    after a 0.5 s hole is not judged: the detector restarted and warms up again; the same
    jolt 0.5 s after the hole is."""
    params = MotionParams(stumble_jolt_score_ratio=1.0, stumble_jolt_descent_ratio=0.0)
    d = MotionDetector(params)
    stand(d, 0.0, 3.0)
    assert d.update(3.5, 100.0, 0.0, G - 30.0, 10.0, 0.0, 0.0) is None
    d2 = MotionDetector(params)
    stand(d2, 0.0, 3.0)
    stand(d2, 3.5, 4.0)
    found = d2.update(4.0, 100.0, 0.0, G - 30.0, 10.0, 0.0, 0.0)
    assert found is not None and rule_of(found) == "jolt"


def test_a_new_detectors_second_sample_at_the_same_time_is_no_restart():
    """A repeated time stamp right at the start passes no time: the tilting rate of the
    first sample stands, it is not replaced by the second's as after a restart."""
    d = MotionDetector()
    d.update(0.0, 0.0, 0.0, G, 0.3, 0.4, 0.0)
    d.update(0.0, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    assert d.w_radps == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("level_radps", [0.5, 2.0])
def test_the_first_trunk_rate_is_judged_against_the_configured_start_up_level(level_radps):
    d = MotionDetector(MotionParams(rate_level_initial_radps=level_radps))
    d.update(0.0, 3.0, 4.0, G, 0.6, 0.8, 0.0)  # 1 rad/s of trunk rate, a 5 m/s² jolt
    assert d.rate_level_radps == pytest.approx(level_radps, abs=1e-12)
    assert d.jolt_score == pytest.approx(5.0 / 8.0 * 1.0 / level_radps, abs=1e-12)


@pytest.mark.parametrize("level_mps", [0.2, 1.0])
def test_the_sag_of_the_first_steps_is_judged_against_the_configured_start_up_gait_level(level_mps):
    """The stumble rule asks for a sag 3.9 x the walker's gait level; before any gait is seen
    that level is gait_rms_initial_mps, as configured."""
    d = MotionDetector(MotionParams(gait_rms_initial_mps=level_mps))
    d.update(0.0, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    assert math.sqrt(d.gait_ms) == pytest.approx(level_mps, abs=1e-12)


def test_with_no_activity_level_set_standing_is_never_recognised_even_on_a_silent_sensor():
    """still_activity_mps2 = 0 switches the standing-still relaxation off: even a sensor
    that reads exactly gravity and nothing else (activity exactly zero) is not standing."""
    d = MotionDetector(MotionParams(still_activity_mps2=0.0, jolt_level_initial_mps2=0.0))
    for k in range(400):
        d.update(k / RATE_HZ, 0.0, 0.0, G, 0.0, 0.0, 0.0)
        assert not d.is_still
    assert d.activity_ms == 0.0
