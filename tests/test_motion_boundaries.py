"""The motion rules at their default thresholds: exactly at a threshold nothing fires, a hair past it the rule does.

The defaults are written out here as the documented figures (see
docs/configuration.md), so a default that moves is a failing test, not a silent
change of what stops the belt. If a default is retuned on purpose, change it in
DEFAULTS with the reason in the commit.
"""

from __future__ import annotations

import math

import pytest

from monitor.safety import fall_model
from monitor.safety.fall_model import TRAINED, FallModel, features, is_gated
from monitor.safety.motion import MotionDetector, MotionParams, classify

P = MotionParams()
G = 9.80665

# The documented defaults the rules are judged against.
DEFAULTS = {
    "fall_drop_velocity_mps": 1.0, "fall_drop_tilt_rad": 0.37,
    "fall_topple_tilt_rad": 0.46, "fall_topple_rate_radps": 1.0, "fall_topple_velocity_mps": 0.4,
    "fall_topple_uprighting_rad": 0.35,
    "stumble_velocity_mps": 0.5, "stumble_velocity_ratio": 4.1, "stumble_rate_radps": 0.5,
    "stumble_jolt_score_ratio": 9.8, "stumble_jolt_descent_ratio": 1.1,
    "level_prior_s": 0.4,
}


def past(x: float) -> float:
    return math.nextafter(x, math.inf)


def short(x: float) -> float:
    return math.nextafter(x, -math.inf)


def test_the_defaults_are_the_documented_figures():
    assert {name: getattr(P, name) for name in DEFAULTS} == DEFAULTS


# classify(p, tilt, vertical velocity (up +), tilt rate, gait RMS velocity, inclination change, jolt score, model excess)

@pytest.mark.parametrize("tilt,down,rule", [
    (0.37, 1.5, None), (past(0.37), 1.5, "drop"),
    (0.40, 1.0, None), (0.40, past(1.0), "drop"),
])
def test_drop_at_its_default_thresholds(tilt, down, rule):
    assert classify(P, tilt, -down, 0.0, 10.0, 0.0) == rule


@pytest.mark.parametrize("tilt,rate,down,incl,rule", [
    (0.46, 1.5, 0.6, 0.0, None), (past(0.46), 1.5, 0.6, 0.0, "topple"),
    (0.6, 1.0, 0.6, 0.0, None), (0.6, past(1.0), 0.6, 0.0, "topple"),
    (0.6, 1.5, 0.4, 0.0, None), (0.6, 1.5, past(0.4), 0.0, "topple"),
    (0.6, 1.5, 0.6, -0.35, None), (0.6, 1.5, 0.6, past(-0.35), "topple"),
])
def test_topple_at_its_default_thresholds(tilt, rate, down, incl, rule):
    assert classify(P, tilt, -down, rate, 10.0, incl) == rule


@pytest.mark.parametrize("down,rate,gait_rms,rule", [
    (0.5, 0.8, 0.1, None), (past(0.5), 0.8, 0.1, "stumble"),
    (0.8, 0.5, 0.1, None), (0.8, past(0.5), 0.1, "stumble"),
    (0.82, 0.8, 0.2, None), (0.82, 0.8, short(0.2), "stumble"),  # 0.82 = 4.1 x 0.2
])
def test_stumble_at_its_default_thresholds(down, rate, gait_rms, rule):
    assert classify(P, 0.0, -down, rate, gait_rms, 0.0) == rule


@pytest.mark.parametrize("score,down,rule", [
    (9.8, 0.4, None), (past(9.8), 0.4, "jolt"),
    (10.0, 1.1 * 0.3, None), (10.0, past(1.1 * 0.3), "jolt"),  # the sag: 1.1 x a gait level of 0.3 m/s
])
def test_jolt_at_its_default_thresholds(score, down, rule):
    assert classify(P, 0.0, -down, 1.0, 0.3, 0.0, score) == rule


@pytest.mark.parametrize("excess,rule", [(0.0, None), (past(0.0), "model"), (-math.inf, None)])
def test_the_learned_model_fires_only_past_its_threshold(excess, rule):
    assert classify(P, 0.0, 0.2, 0.0, 0.3, 0.0, 0.0, excess) == rule


@pytest.mark.parametrize("excess,rule", [(0.0, None), (past(0.0), "stumble_model"), (-math.inf, None)])
def test_the_learned_stumble_score_fires_only_past_its_threshold(excess, rule):
    assert classify(P, 0.0, 0.2, 0.0, 0.3, 0.0, 0.0, -math.inf, excess) == rule


def test_a_fall_rule_wins_over_a_stumble_rule_in_the_same_sample():
    assert classify(P, 0.5, -1.5, 2.0, 0.1, 0.0, 50.0, 5.0) == "drop"
    assert classify(P, 0.47, -0.8, 2.0, 0.1, 0.0, 50.0, 5.0) == "topple"
    assert classify(P, 0.0, -0.8, 2.0, 0.1, 0.0, 50.0, 5.0) == "model"
    assert classify(P, 0.0, -0.8, 2.0, 0.1, 0.0, 50.0) == "stumble"


# -- the learned model's gate and inputs -------------------------------------------------------------

@pytest.mark.parametrize("age,descent,tilt,is_judged", [
    (1.5, 0.4, 0.2, False), (1.5, past(0.4), 0.2, True), (1.5, 0.6, 0.1, False), (1.5, 0.6, past(0.1), True),
    (short(1.5), 0.6, 0.2, False)])
def test_the_model_is_judged_only_past_its_gate_and_a_second_and_a_half_after_a_start(age, descent, tilt, is_judged):
    assert is_gated(TRAINED, age, descent, tilt) is is_judged


def test_the_models_inputs_are_the_logarithms_of_the_walkers_own_ratios():
    got = features(TRAINED, 0.8, 0.4, 0.3, 1.2, 0.6, 2.5)
    assert got == pytest.approx((math.log(0.8 / 0.4), math.log(0.8), math.log(0.3), math.log(1.2 / 0.6),
                                 math.log(1.2), math.log(2.5)), abs=1e-12)


def test_the_models_inputs_have_floors_below_which_they_are_noise():
    got = features(TRAINED, 0.01, 0.05, 0.001, 0.01, 0.5, 0.01)
    # descent 0.05 m/s, gait level 0.2 m/s, tilt 0.01 rad, tilt rate 0.05 rad/s, jolt ratio 0.1
    assert got == pytest.approx((math.log(0.05 / 0.2), math.log(0.05), math.log(0.01), math.log(0.05 / 0.5),
                                 math.log(0.05), math.log(0.1)), abs=1e-12)


def test_the_models_gait_floor_is_its_own():
    model = FallModel(intercept=0.0, coefficients=(1.0,) * 6, threshold_logit=1.0, gate_descent_mps=0.1,
                      gate_tilt_rad=0.1, gait_floor_mps=0.5)
    assert features(model, 1.0, 0.3, 0.5, 1.0, 1.0, 1.0)[0] == pytest.approx(math.log(1.0 / 0.5))
    assert fall_model.score(model, (1.0, 2.0, 3.0, 0.5, 0.25, 0.125)) == pytest.approx(6.875)


# -- the detector as a whole: start-up levels, warm-up and the standing-still relaxation ------------------

def still(detector: MotionDetector, t0_s: float, t1_s: float, rate_hz: float = 200.0):
    """Perfectly still and upright (no noise at all)."""
    found = []
    n = round((t1_s - t0_s) * rate_hz)
    for k in range(n):
        found.append(detector.update(t0_s + k / rate_hz, 0.0, 0.0, G, 0.0, 0.0, 0.0))
    return found


def test_a_new_detector_starts_upright_at_rest_with_jogging_levels():
    d = MotionDetector()
    assert (d.ux, d.uy, d.uz, d.rx, d.ry, d.rz) == (0.0, 0.0, 1.0, 0.0, 0.0, 1.0)
    assert (d.v_mps, d.w_radps, d.tilt_rad, d.jolt_mps2, d.jolt_ratio_held, d.jolt_score) == (0.0,) * 6
    assert d.mean_av == G
    assert d.gait_ms == pytest.approx(0.5 ** 2) and d.jolt_ms == pytest.approx(8.0 ** 2)
    assert d.rate_ms == pytest.approx(1.0 ** 2) and d.activity_ms == pytest.approx(8.0 ** 2)
    assert d.rate_level_radps == 1.0 and d.model_score_logit == -math.inf and d.is_still is False


def test_standing_still_is_recognised_only_once_the_start_up_activity_has_faded():
    """The activity starts at the jogging level (8 m/s² RMS) and fades with 0.5 s:
    below 0.8 m/s² after ln(100) x 0.5 s = 2.3 s of perfect stillness, not before."""
    d = MotionDetector()
    still(d, 0.0, 2.2)
    assert not d.is_still
    still(d, 2.2, 2.4)
    assert d.is_still


def test_while_still_the_levels_relax_back_to_the_start_up_levels():
    d = MotionDetector()
    d.jolt_ms, d.rate_ms, d.gait_ms = 1.0, 0.01, 0.01
    d.activity_ms = 0.0
    still(d, 0.0, 1.0)
    # relaxing with 1 s toward 64, 1 and 0.25: after 1 s, 1 - e^-1 = 63 % of the way
    assert d.jolt_ms == pytest.approx(64.0 - 63.0 * math.exp(-1.0), rel=0.02)
    assert d.rate_ms == pytest.approx(1.0 - 0.99 * math.exp(-1.0), rel=0.02)
    assert d.gait_ms == pytest.approx(0.25 - 0.24 * math.exp(-1.0), rel=0.02)


def test_the_levels_never_count_below_their_floors():
    d = MotionDetector()
    d.rate_ms = 0.0
    d.jolt_ms = 0.0
    d.update(0.0, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    assert d.rate_level_radps == 0.3


def test_no_rule_fires_during_the_warm_up_even_in_free_fall():
    d = MotionDetector()
    found = [d.update(k / 200, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0) for k in range(100)]  # 0.5 s
    assert found[:99] == [None] * 99


def test_a_component_rounded_a_hair_past_unit_length_still_gives_an_angle():
    """A normalised up vector can come out with a component of 1 + 2e-16: the inclination
    is then 0 (or pi), never a math domain error that would stop the core."""
    from monitor.safety.motion import _acos

    assert _acos(past(1.0)) == 0.0 and _acos(1.0) == 0.0 and _acos(1.5) == 0.0
    assert _acos(short(-1.0)) == math.pi and _acos(-1.0) == math.pi and _acos(-1.5) == math.pi
    assert _acos(0.5) == pytest.approx(math.pi / 3) and _acos(-0.5) == pytest.approx(2 * math.pi / 3)


# -- what the detector measures: attitude, rates, velocity, jolt, holes ------------------------------------

def run(d: MotionDetector, t0_s: float, t1_s: float, a, g=(0.0, 0.0, 0.0), rate_hz: float = 200.0):
    n = round((t1_s - t0_s) * rate_hz)
    for k in range(n):
        d.update(t0_s + k / rate_hz, *a, *g)


def angle_from_up(d: MotionDetector) -> float:
    return math.acos(max(-1.0, min(1.0, d.uz)))


def test_at_start_the_first_samples_weigh_like_a_tenth_of_a_second_of_upright():
    d = MotionDetector()
    run(d, 0.0, 0.1, (G, 0.0, 0.0))  # the sensor lying on its side from the first sample
    assert 0.6 < angle_from_up(d) < 0.9  # about half way to 90 degrees, not all the way, not nowhere
    assert d.ux > 0.5 and abs(d.uy) < 1e-9


def test_after_the_warm_up_the_up_vector_follows_gravity_with_a_one_second_time_constant():
    d = MotionDetector()
    run(d, 0.0, 3.0, (0.0, 0.0, G))
    run(d, 3.0, 4.0, (0.0, G, 0.0))  # turned 90 degrees about x
    assert 0.75 < angle_from_up(d) < 1.3 and d.uy > 0.5
    run(d, 4.0, 9.0, (0.0, G, 0.0))
    assert angle_from_up(d) > 1.5


@pytest.mark.parametrize("gyro,expected", [((0.2, 0.0, 0.0), (0.0, 0.2)), ((0.0, 0.2, 0.0), (-0.2, 0.0)),
                                           ((0.0, 0.0, 0.2), (0.0, 0.0))])
def test_the_gyro_turns_the_up_vector_each_axis_with_its_sign(gyro, expected):
    """Upright gravity but a steady rate: the gyro turns the up estimate (du/dt = u x w), the
    accelerometer pulls it back with its 1 s time constant; they settle about 0.2 rad apart
    for 0.2 rad/s about a horizontal axis, and not at all for a turn about the vertical."""
    d = MotionDetector()
    run(d, 0.0, 8.0, (0.0, 0.0, G), gyro)
    assert (d.ux, d.uy) == pytest.approx(expected, abs=0.03)


def test_the_tilting_rate_counts_the_horizontal_axes_only_and_starts_at_the_first_sample():
    d = MotionDetector()
    d.update(0.0, 0.0, 0.0, G, 0.3, 0.4, 1.2)
    assert d.w_radps == pytest.approx(0.5, abs=1e-12)
    d.update(0.005, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    assert d.w_radps == pytest.approx(0.5 * 0.04 / 0.045, abs=1e-3)  # low-passed over 0.04 s


def test_a_free_fall_is_a_downward_velocity_of_g_times_the_leaky_time():
    d = MotionDetector()
    run(d, 0.0, 12.0, (0.0, 0.0, G))
    assert abs(d.v_mps) < 0.01 and d.mean_av == pytest.approx(G, rel=1e-3)
    run(d, 12.0, 12.3, (0.0, 0.0, 0.0))
    leaky = -G * 1.0 * (1.0 - math.exp(-0.3 / 1.0))  # the integrator leaks with 1 s
    assert d.v_mps == pytest.approx(leaky, rel=0.04)
    assert d.mean_av < G * 0.99  # the slow mean (10 s) has begun to follow


def test_the_jolt_is_the_acceleration_beside_gravity_against_the_walkers_own_level():
    d = MotionDetector()
    d.update(0.0, 3.0, 4.0, G, 0.3, 0.4, 0.0)  # the first sample: nothing filtered yet
    assert d.jolt_mps2 == pytest.approx(5.0, abs=1e-12)
    assert d.jolt_ratio_held == pytest.approx(5.0 / 8.0, abs=1e-12)  # against the start-up level, 8 m/s²
    assert d.jolt_score == pytest.approx(5.0 / 8.0 * 0.5 / 1.0, abs=1e-12)  # x tilting rate / rate level
    d.update(0.005, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    # the jolt is low-passed over 0.03 s; the held ratio decays over 0.2 s
    assert d.jolt_mps2 == pytest.approx(5.0 * 0.03 / 0.035, abs=0.02)
    assert d.jolt_ratio_held == pytest.approx(5.0 / 8.0 * 0.2 / 0.205, abs=1e-6)


def test_a_hole_longer_than_max_dt_restarts_the_detector_and_a_shorter_one_is_bridged():
    for hole_s, is_restart in [(0.05, False), (0.0625, True)]:
        d = MotionDetector()
        run(d, 0.0, 3.0, (0.0, 0.0, G), (0.02, 0.0, 0.0))
        d.update(3.0 - 1 / 200 + hole_s, 0.0, 0.0, G, 0.0, 0.0, 0.0)
        is_reset = d.gait_ms == pytest.approx(0.25, abs=1e-12) and d.jolt_ms == pytest.approx(64.0, abs=1e-12)
        assert is_reset is is_restart, hole_s


def test_a_repeated_time_stamp_passes_no_time_unless_samples_were_lost():
    d = MotionDetector()
    run(d, 0.0, 3.0, (0.0, 0.0, G), (0.02, 0.0, 0.0))
    before = d.gait_ms
    d.update(3.0 - 1 / 200, 0.0, 0.0, G, 0.02, 0.0, 0.0)  # the same time again
    assert d.gait_ms == before and d.gait_ms != pytest.approx(0.25, abs=1e-6)
    d.gap()
    d.update(3.0 - 1 / 200, 0.0, 0.0, G, 0.02, 0.0, 0.0)  # lost samples, and time did not move: restart
    assert d.gait_ms == pytest.approx(0.25, abs=1e-12)


def test_a_step_of_exactly_max_dt_is_bridged():
    d = MotionDetector()
    d.update(0.0, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    d.update(0.05, G, 0.0, 0.0, 0.0, 0.0, 0.0)  # 0.05 s later (exactly max_dt_s): the pull acts over it
    assert d.ux > 0.2


def test_after_a_restart_the_first_sample_sets_the_rates_unfiltered():
    d = MotionDetector()
    run(d, 0.0, 2.0, (0.0, 0.0, G), (0.02, 0.0, 0.0))
    d.update(2.5, 0.0, 0.0, G, 0.6, 0.8, 0.0)  # after a 0.5 s hole
    assert d.w_radps == pytest.approx(1.0, abs=1e-12)


def test_the_warm_up_ends_exactly_at_warmup_s():
    """During the warm-up the upright reference is the attitude itself (no tilt at all); from
    0.5 s on it lags behind a turning trunk."""
    d = MotionDetector()
    for k in range(129):  # 256 Hz: the 129th sample is exactly 0.5 s after the first
        d.update(k / 256, 0.0, 0.0, G, 1.0, 0.0, 0.0)
        if k < 128:
            assert d.tilt_rad < 1e-6, k
    assert d.tilt_rad > 1e-4


def test_the_upright_reference_follows_a_new_posture_with_four_seconds():
    lean = (G * math.sin(0.3) * math.cos(0.7), G * math.sin(0.3) * math.sin(0.7), G * math.cos(0.3))
    d = MotionDetector()
    run(d, 0.0, 6.0, (0.0, 0.0, G))
    run(d, 6.0, 7.5, lean)  # the walker leans 0.3 rad and stays
    assert 0.12 < d.tilt_rad < 0.3
    assert d.rx > 0.0 and d.ry > 0.0  # the reference has begun to follow, in the lean's direction
    run(d, 7.5, 36.0, lean)
    assert d.tilt_rad < 0.01  # the new posture is the walker's own upright
    assert math.isclose(d.rx ** 2 + d.ry ** 2 + d.rz ** 2, 1.0, rel_tol=1e-9)


LEAN = (math.sin(0.3) * math.cos(0.7), math.sin(0.3) * math.sin(0.7), math.cos(0.3))  # a lean, all three parts


def test_leaning_steadily_the_vertical_specific_force_is_still_one_g():
    d = MotionDetector()
    run(d, 0.0, 30.0, tuple(G * c for c in LEAN))
    assert d.mean_av == pytest.approx(G, rel=0.005) and abs(d.v_mps) < 0.01


def test_turning_while_leaning_is_not_a_tilting_rate_but_a_pitch_is():
    up = LEAN
    across = (-math.sin(0.7), math.cos(0.7), 0.0)  # horizontal, at right angles to the lean
    d = MotionDetector()
    run(d, 0.0, 20.0, tuple(G * c for c in up))
    run(d, 20.0, 20.5, tuple(G * c for c in up), tuple(0.8 * c for c in up))  # a turn about the trunk's vertical
    assert d.w_radps < 0.02
    d2 = MotionDetector()
    run(d2, 0.0, 20.0, tuple(G * c for c in up))
    run(d2, 20.0, 20.2, tuple(G * c for c in up), tuple(0.8 * c for c in across))
    assert d2.w_radps == pytest.approx(0.8, rel=0.05)


def test_an_accelerometer_reading_five_percent_high_is_learnt_quickly_at_start_then_with_ten_seconds():
    d = MotionDetector()
    run(d, 0.0, 3.0, (0.0, 0.0, 1.05 * G))
    assert d.mean_av == pytest.approx(1.05 * G, rel=0.005) and abs(d.v_mps) < 0.1
    run(d, 3.0, 20.0, (0.0, 0.0, 1.05 * G))
    run(d, 20.0, 30.0, (0.0, 0.0, 1.10 * G))  # the error grows: followed with 10 s, not by a running mean
    assert d.mean_av == pytest.approx(G * (1.05 + 0.05 * (1 - math.exp(-1.0))), rel=0.003)


@pytest.mark.parametrize("leak_s", [0.5, 2.0])
def test_the_velocity_leaks_with_its_setting(leak_s):
    d = MotionDetector(MotionParams(velocity_leak_tau_s=leak_s))
    run(d, 0.0, 12.0, (0.0, 0.0, G))
    run(d, 12.0, 12.3, (0.0, 0.0, 0.0))
    assert d.v_mps == pytest.approx(-G * leak_s * (1.0 - math.exp(-0.3 / leak_s)), rel=0.04)


def test_a_pitch_during_a_turn_while_leaning_counts_the_pitch_alone():
    across = (-math.sin(0.7), math.cos(0.7), 0.0)
    d = MotionDetector()
    run(d, 0.0, 20.0, tuple(G * c for c in LEAN))
    spin = tuple(0.8 * a + 0.8 * u for a, u in zip(across, LEAN))
    run(d, 20.0, 20.2, tuple(G * c for c in LEAN), spin)
    assert d.w_radps == pytest.approx(0.8, rel=0.03)


def test_leaning_steadily_is_no_jolt():
    d = MotionDetector()
    run(d, 0.0, 20.0, tuple(G * c for c in LEAN))
    assert d.jolt_mps2 < 0.05


def sway(d: MotionDetector, t0_s: float, t1_s: float) -> tuple[float, float, float]:
    """A steady sway (jolt RMS ~2.8 m/s², tilting rate 0.5 rad/s) at 200 Hz; returns the
    integrals over time of the squared jolt, squared tilting rate and squared vertical
    velocity the detector saw."""
    jolt_sq_s = rate_sq_s = velocity_sq_s = 0.0
    for k in range(round((t1_s - t0_s) * 200)):
        sway_step(d, t0_s + k / 200)
        if k:
            jolt_sq_s += d.jolt_mps2 ** 2 / 200
            rate_sq_s += d.w_radps ** 2 / 200
            velocity_sq_s += d.v_mps ** 2 / 200
    return jolt_sq_s, rate_sq_s, velocity_sq_s


def test_the_walkers_own_levels_start_as_a_running_mean_weighing_the_start_up_levels_as_0_4_s_of_gait():
    """Until 0.4 s short of their 2 s time constants the levels are the mean of the start-up
    level (weighing 0.4 s) and every sample of gait so far: the walker's own after a second or
    two of walking, not after several time constants."""
    d = MotionDetector()
    jolt_sq_s, rate_sq_s, velocity_sq_s = sway(d, 0.0, 1.5)
    assert not d.is_still and d._level_age_s == pytest.approx(1.495)
    assert d.jolt_ms == pytest.approx((0.4 * 8.0 ** 2 + jolt_sq_s) / (0.4 + 1.495), rel=1e-9)
    assert d.rate_ms == pytest.approx((0.4 * 1.0 ** 2 + rate_sq_s) / (0.4 + 1.495), rel=1e-9)
    assert d.gait_ms == pytest.approx((0.4 * 0.5 ** 2 + velocity_sq_s) / (0.4 + 1.495), rel=1e-9)
    assert d.jolt_ms < 30.0  # an exponential fade from 64 m²/s⁴ would still be at ~39


def sway_step(d: MotionDetector, t_s: float) -> tuple[float, float]:
    """One more sample of the sway; returns the jolt level's mean square before it and the jolt seen."""
    before = d.jolt_ms
    d.update(t_s, 4.0 * math.sin(2 * math.pi * 2.0 * t_s), 0.0, G, 0.5 * math.cos(0.3), 0.5 * math.sin(0.3), 0.0)
    return before, d.jolt_mps2


@pytest.mark.parametrize("t_s,window_s", [(1.59, 1.99), (1.6, 2.0), (1.605, 2.0)])
def test_the_running_mean_gives_way_to_the_two_second_time_constant_at_1_6_s_of_gait(t_s, window_s):
    """A sample weighs dt / (gait so far + the start-up level's 0.4 s) until that reaches the
    2 s time constant, then dt / 2 s."""
    d = MotionDetector()
    sway(d, 0.0, t_s)
    before, j = sway_step(d, t_s)
    assert d._level_age_s == pytest.approx(t_s)
    assert d.jolt_ms == pytest.approx(before + 0.005 / window_s * (j * j - before), rel=1e-12)


def test_a_level_prior_as_long_as_the_time_constants_is_the_plain_exponential_fade():
    d = MotionDetector(MotionParams(level_prior_s=2.0))
    sway(d, 0.0, 2.0)
    assert 26.0 < d.jolt_ms < 40.0  # about 8 + 56 e^-1 = 28.6 (33 here)
    assert 0.35 < d.rate_ms < 0.7  # 0.25 + 0.75 e^-1 = 0.53
    assert 0.05 < d.gait_ms < 0.15  # 0.25 e^-1 = 0.092 (the waist hardly moves up or down)


def test_standing_still_starts_the_running_mean_again():
    """After standing, the first sample of gait weighs dt / (dt + 0.4 s): as at a start."""
    d = MotionDetector()
    sway(d, 0.0, 3.0)
    assert d._level_age_s > 2.9
    still(d, 3.0, 6.0)
    assert d.is_still and d._level_age_s == 0.0
    t = 6.0
    while True:
        before, j = sway_step(d, t)
        if not d.is_still:
            break
        t += 0.005
    assert d._level_age_s == pytest.approx(0.005)
    assert d.jolt_ms == pytest.approx(before + 0.005 / 0.405 * (j * j - before), rel=1e-12)


@pytest.mark.parametrize("relax_s", [0.5, 2.0])
def test_standing_still_relaxes_with_its_own_time_constant(relax_s):
    params = MotionParams(still_relax_tau_s=relax_s, rate_level_initial_radps=0.5)
    d = MotionDetector(params)
    d.jolt_ms, d.rate_ms, d.activity_ms = 1.0, 0.01, 0.0
    still(d, 0.0, 1.0)
    assert d.jolt_ms == pytest.approx(64.0 - 63.0 * math.exp(-1.0 / relax_s), rel=0.03)
    assert d.rate_ms == pytest.approx(0.25 - 0.24 * math.exp(-1.0 / relax_s), rel=0.03)


def test_a_jolt_hold_of_zero_holds_nothing_back():
    d = MotionDetector(MotionParams(jolt_hold_s=0.0))
    d.update(0.0, 3.0, 4.0, G, 0.0, 0.0, 0.0)
    assert d.jolt_ratio_held == pytest.approx(5.0 / 8.0)
    d.update(0.005, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    assert d.jolt_ratio_held < 5.0 / 8.0 * 0.9


# -- a finding records what the detector saw at that sample -------------------------------------------------

def expected_values(d: MotionDetector, rule: str) -> dict:
    gait_rms = math.sqrt(d.gait_ms)
    jolt_level = max(math.sqrt(d.jolt_ms), d.p.jolt_level_min_mps2)
    return {
        "tilt_rad": d.tilt_rad, "vertical_velocity_mps": d.v_mps, "tilt_rate_radps": d.w_radps,
        "gait_rms_velocity_mps": gait_rms,
        "inclination_change_rad": math.acos(min(1.0, d.uz)) - math.acos(min(1.0, d.rz)),
        "jolt_mps2": d.jolt_mps2, "jolt_level_mps2": jolt_level, "tilt_rate_level_radps": d.rate_level_radps,
        "jolt_score_ratio": d.jolt_score, "rule_" + rule: 1.0,
    }


def test_the_first_decision_comes_exactly_at_warmup_s_and_records_the_detectors_state():
    d = MotionDetector(MotionParams(stumble_jolt_score_ratio=1.0, stumble_jolt_descent_ratio=0.0))
    for k in range(128):
        assert d.update(k / 256, 0.0, 0.0, G, 0.0, 0.0, 0.0) is None
    found = d.update(0.5, 100.0, 0.0, G - 30.0, 10.0, 0.0, 0.0)  # a hard jolt, a fast turn of the trunk, a sag
    assert found is not None and found.reason == "stumble" and found.t_s == 0.5
    assert found.values == pytest.approx(expected_values(d, "jolt"), abs=1e-12)


def test_a_fall_judged_by_the_learned_model_records_its_inputs_and_terms():
    d = MotionDetector()
    run(d, 0.0, 3.0, (0.0, 0.0, G))
    found = None
    for k in range(200):  # the waist drops and the trunk pitches
        found = d.update(3.0 + k / 200, 0.0, 0.0, 0.3 * G, 2.0, 0.0, 0.0) or found
        if found is not None:
            break
    assert found is not None and found.reason == "fall"
    rule = next(name[len("rule_"):] for name in found.values if name.startswith("rule_"))
    values = dict(found.values)
    model_part = {name: values.pop(name) for name in list(values) if name.startswith("model_")}
    assert values == pytest.approx(expected_values(d, rule), abs=1e-12)
    inputs = features(TRAINED, -d.v_mps, math.sqrt(d.gait_ms), d.tilt_rad, d.w_radps, d.rate_level_radps,
                      d.jolt_ratio_held)
    expected_model = {"model_score_logit": d.model_score_logit, "model_threshold_logit": TRAINED.threshold_logit}
    for name, weight, x in zip(fall_model.FEATURES, TRAINED.coefficients, inputs):
        if weight:
            expected_model["model_" + name] = x
            expected_model["model_term_" + name + "_logit"] = weight * x
    assert model_part == pytest.approx(expected_model, abs=1e-12)
    assert d.model_score_logit == pytest.approx(fall_model.score(TRAINED, inputs), abs=1e-12)


# -- the gait level is not raised by a fall's own descent ------------------------------------------

def _gait_level_after(params: MotionParams, descent_s: float) -> tuple[float, float]:
    """(the walker's gait level after 10 s of a steady 2 Hz bounce, the same after a further
    descent_s of falling at 0.5 g), in m/s."""
    d = MotionDetector(params)
    for k in range(2000):
        t = k / 200
        d.update(t, 0.0, 0.0, G + 3.0 * math.sin(2 * math.pi * 2.0 * t), 0.0, 0.0, 0.0)
    steady = math.sqrt(d.gait_ms)
    run(d, 10.0, 10.0 + descent_s, (0.0, 0.0, 0.5 * G))  # the waist accelerating down at half of g
    return steady, math.sqrt(d.gait_ms)


def test_a_steady_gait_is_learnt_whole_and_a_fall_does_not_raise_it():
    unclipped = MotionParams(gait_rms_clip_ratio=100.0)
    steady, falling = _gait_level_after(P, 0.4)
    steady_whole, falling_whole = _gait_level_after(unclipped, 0.4)
    assert steady == pytest.approx(steady_whole, rel=1e-9)  # a sine's peaks are 1.41 x its RMS: under 2 x
    assert falling_whole > 2.0 * steady  # without the cap 0.4 s of falling doubles the level...
    assert falling < 1.35 * steady  # ...with it, each sample counts at most 2 x the level


@pytest.mark.parametrize("ratio,whole", [(1.5, True), (1.4, False)])
def test_the_gait_cap_on_both_sides_of_a_steady_bounce(ratio, whole):
    """A sine's peaks are sqrt(2) = 1.414 x its RMS (a little more against the level, which
    ripples within each stride): a cap of 1.5 passes this gait whole, 1.4 trims it."""
    steady, _ = _gait_level_after(MotionParams(gait_rms_clip_ratio=ratio), 0.0)
    steady_whole, _ = _gait_level_after(MotionParams(gait_rms_clip_ratio=100.0), 0.0)
    assert (steady == pytest.approx(steady_whole, rel=1e-3)) is whole
