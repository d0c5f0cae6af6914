"""The backward ceiling ("start slow") and steadiness: every threshold on both sides, on a passed-in
clock; and in the core, the trip with its own reason and a stumble that lowers the ceiling."""

import math

import pytest

from monitor.config.schema import Config
from monitor.safety.ceiling import SPEED_TOLERANCE_MPS, BackwardCeiling, CeilingEventKind, CeilingParams
from monitor.safety.core import SafetyCore
from monitor.safety.direction import Change, Cue, Direction
from monitor.safety.steadiness import MIN_INTERVALS, Steadiness
from monitor.safety.verdict import BACKWARD_CEILING, REASONS, STUMBLE, Problem
from tests.support import IDENTITY_MOUNT, standing, with_settings

PARAMS = CeilingParams(min_mps=0.25, max_mps=1.75, step_mps=0.125, near_mps=0.125, rise_after_s=120.0,
                       confirm_s=5.0)
TICK = 1 / 64


def run(c: BackwardCeiling, t0_s: float, t1_s: float, *, belt_mps: float, applies=True, is_backward=True,
        is_steady=True) -> list[Problem]:
    problems: list[Problem] = []
    for k in range(int(round((t1_s - t0_s) / TICK))):
        c.tick(t0_s + k * TICK, belt_mps=belt_mps, applies=applies, is_backward=is_backward,
               is_steady=is_steady, problems=problems)
    return problems


def kinds(c: BackwardCeiling) -> list[CeilingEventKind]:
    return [e.kind for e in c.take_events()]


def test_the_reason_word_is_declared_with_the_others():
    assert BACKWARD_CEILING == "backward_ceiling" and BACKWARD_CEILING in REASONS


@pytest.mark.parametrize("start, expected", [(0.5, 0.5), (0.1, 0.25), (3.0, 1.75)])
def test_the_starting_ceiling_is_kept_within_its_bounds(start, expected):
    assert BackwardCeiling(PARAMS, start_mps=start).ceiling_mps == expected


def test_above_the_ceiling_it_warns_at_once_and_trips_only_after_confirm_s():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    assert not run(c, 0.0, 5.0, belt_mps=0.75)  # 0 .. 4.984 s over: warned, not stopped
    assert c.is_over and kinds(c) == [CeilingEventKind.WARNED]
    problems = run(c, 5.0, 5.0 + TICK, belt_mps=0.75)
    assert [p.detail for p in problems] == ["above_backward_ceiling"]
    assert problems[0].values["over_for_s"] == 5.0 and problems[0].values["ceiling_mps"] == 0.5


def test_a_hair_over_the_ceiling_is_not_over_it():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 10.0, belt_mps=0.5 + SPEED_TOLERANCE_MPS)
    assert not c.is_over
    run(c, 10.0, 11.0, belt_mps=0.5 + SPEED_TOLERANCE_MPS + 0.01)
    assert c.is_over


def test_slowing_down_in_time_ends_the_warning_without_a_trip():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    assert not run(c, 0.0, 4.0, belt_mps=0.75) + run(c, 4.0, 20.0, belt_mps=0.5)
    assert not c.is_over


def test_a_walker_known_to_face_the_console_has_no_ceiling():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    assert not run(c, 0.0, 30.0, belt_mps=3.0, applies=False, is_backward=False)
    assert not c.is_over and not c.take_events()


def test_steady_walking_near_the_ceiling_raises_it_a_step_after_rise_after_s():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 120.0, belt_mps=0.5)  # 119.98 s of steady time counted
    assert c.ceiling_mps == 0.5 and c.rise_in_s == pytest.approx(TICK)
    run(c, 120.0, 120.0 + 2 * TICK, belt_mps=0.5)
    assert c.ceiling_mps == 0.625 and kinds(c) == [CeilingEventKind.ROSE]
    assert c.rise_in_s == pytest.approx(120.0 - TICK)


@pytest.mark.parametrize("belt, counts", [(0.375, True), (0.375 - 0.01, False)])
def test_only_walking_within_near_mps_of_the_ceiling_counts(belt, counts):
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 60.0, belt_mps=belt)
    assert (c.steady_s > 59.0) == counts


def test_unsteady_walking_near_the_ceiling_starts_the_count_again():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 100.0, belt_mps=0.5)
    run(c, 100.0, 101.0, belt_mps=0.5, is_steady=False)
    assert c.steady_s == 0.0
    run(c, 101.0, 200.0, belt_mps=0.5)
    assert c.ceiling_mps == 0.5


def test_a_warning_starts_the_count_again():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 100.0, belt_mps=0.5)
    run(c, 100.0, 101.0, belt_mps=0.7)
    assert c.steady_s == 0.0


def test_only_known_backward_walking_counts_toward_a_rise():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    run(c, 0.0, 200.0, belt_mps=0.5, is_backward=False)
    assert c.ceiling_mps == 0.5 and c.steady_s == 0.0


def test_the_ceiling_never_rises_past_its_maximum():
    c = BackwardCeiling(PARAMS, start_mps=1.75)
    run(c, 0.0, 130.0, belt_mps=1.75)
    assert c.ceiling_mps == 1.75 and not [k for k in kinds(c) if k is CeilingEventKind.ROSE]


def test_a_stumble_and_a_long_break_lower_it_a_step_never_below_the_minimum():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    c.stumbled(1.0, 0.5)
    assert c.ceiling_mps == 0.375
    c.after_break(2.0, 0.3)
    assert c.ceiling_mps == 0.25
    c.stumbled(3.0, 0.25)
    assert c.ceiling_mps == 0.25
    assert kinds(c) == [CeilingEventKind.LOWERED, CeilingEventKind.BREAK]


def test_a_trip_is_an_event_too():
    c = BackwardCeiling(PARAMS, start_mps=0.5)
    c.tripped(9.0, 0.8)
    (event,) = c.take_events()
    assert event.kind is CeilingEventKind.TRIPPED and event.belt_mps == 0.8 and not c.take_events()


# -- steadiness --------------------------------------------------------------------------------

def steps(s: Steadiness, intervals, direction="backward", t0=0.0) -> float:
    t = t0
    s.step(t, direction)
    for dt in intervals:
        t += dt
        s.step(t, direction)
    return t


def test_step_time_variability_is_the_spread_of_the_last_steps_over_their_mean():
    s = Steadiness(max_step_cv=0.06, max_sway_radps=0.6)
    steps(s, [0.55, 0.65] * 8)
    assert s.step_cv == pytest.approx(0.05 / 0.6 * math.sqrt(16 / 15), rel=1e-6)


def test_fewer_than_eight_intervals_are_no_variability_yet():
    s = Steadiness(max_step_cv=0.06, max_sway_radps=0.6)
    steps(s, [0.6] * (MIN_INTERVALS - 1))
    assert s.step_cv is None and not s.is_steady
    steps(s, [0.6], t0=10.0)
    assert s.step_cv is None  # a pause of 6 s in between: learning starts again


def test_a_step_seen_twice_is_ignored():
    s = Steadiness(max_step_cv=0.06, max_sway_radps=0.6)
    t = steps(s, [0.6] * 10)
    s.step(t + 0.1, "backward")
    assert s.step_cv == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("cv_ok, sway_ok", [(True, True), (False, True), (True, False)])
def test_steady_needs_calm_steps_and_calm_sway(cv_ok, sway_ok):
    s = Steadiness(max_step_cv=0.06, max_sway_radps=0.5)
    rate = 0.49 if sway_ok else 0.51
    for k in range(2000):
        s.sample(k / 100, rate, 0.0)
    s.sample(20.0, rate, 0.0)  # a repeated time stamp changes nothing
    steps(s, [0.6] * 16 if cv_ok else [0.5, 0.7] * 8)
    assert s.sway_radps == pytest.approx(rate, rel=1e-3)
    assert s.is_steady == (cv_ok and sway_ok)


def test_each_direction_keeps_its_own_session_means():
    s = Steadiness(max_step_cv=0.06, max_sway_radps=0.6)
    for k in range(2000):
        s.sample(k / 100, 0.3, 0.4)
    steps(s, [0.6] * 20, "backward")
    steps(s, [0.6] * 20, "unknown", t0=100.0)
    out = {d: v.as_dict() for d, v in s.session.items()}
    assert out["forward"] == {"steps": 0, "step_cv": None, "sway_radps": None}
    assert out["backward"]["steps"] == 20 - MIN_INTERVALS + 1
    assert out["backward"]["step_cv"] == pytest.approx(0.0, abs=1e-9) and out["backward"]["sway_radps"] == pytest.approx(0.5, rel=1e-3)


# -- in the core -------------------------------------------------------------------------------

def core(config: Config = Config(), walking="backward", ceiling_mps=0.5) -> SafetyCore:
    return SafetyCore(config, start_s=0.0, walking=walking, imu_mount=IDENTITY_MOUNT, has_belt=True,
                      has_range=False, ceiling_mps=ceiling_mps)


def drive(c: SafetyCore, t0_s: float, t1_s: float, belt_mps: float):
    verdicts = []
    samples = standing(t0_s, t1_s, 256.0, seed=int(t0_s) + 1)
    for k in range(int(round((t1_s - t0_s) * 64))):
        t = t0_s + k / 64
        c.ingest_imu([s for s in samples if t - 1 / 64 < s[0] <= t])
        c.ingest_belt(t, belt_mps)
        if k == 0 and t0_s == 0.0:
            c.request_reset()
        verdicts.append(c.tick(t))
    return verdicts


def test_the_core_stops_a_backward_walker_held_above_their_ceiling_with_its_own_reason():
    config = with_settings(drift={"enabled": False})
    c = core(config)
    verdicts = drive(c, 0.0, 10.0, belt_mps=0.75)
    trip = next(v for v in verdicts if v.is_new_trip)
    assert trip.trip.reason == BACKWARD_CEILING and trip.t_s == pytest.approx(5.0, abs=0.02)
    assert [e["event"] if isinstance(e, dict) else e.kind.value for e in c.ceiling_log] == ["warned", "tripped"]


def test_the_core_ceiling_can_be_switched_off():
    config = with_settings(drift={"enabled": False}, ceiling={"enabled": False})
    assert not [v for v in drive(core(config), 0.0, 10.0, belt_mps=0.75) if v.is_new_trip]


def test_a_stumble_walking_backwards_lowers_the_ceiling_in_the_core():
    config = with_settings(drift={"enabled": False})
    c = core(config, ceiling_mps=0.75)
    drive(c, 0.0, 1.0, belt_mps=0.5)
    c._events.append(Problem(STUMBLE, "stumble_detected", 1.0, {}))
    c.tick(1.0 + 1 / 64)
    assert c.ceiling.ceiling_mps == pytest.approx(0.65)
    assert [e.kind for e in c.ceiling_log][-1] is CeilingEventKind.LOWERED


def test_a_stumble_walking_forward_leaves_the_ceiling_alone():
    config = with_settings(drift={"enabled": False})
    c = core(config, walking="forward", ceiling_mps=0.75)
    drive(c, 0.0, 1.0, belt_mps=0.5)
    c._events.append(Problem(STUMBLE, "stumble_detected", 1.0, {}))
    c.tick(1.0 + 1 / 64)
    assert c.ceiling.ceiling_mps == 0.75


def test_a_drift_pre_warning_is_not_steady():
    config = with_settings(drift={"enabled": False}, range={"enabled": True, "warning_zone_m": 0.25})
    c = SafetyCore(config, start_s=0.0, walking="backward", imu_mount=IDENTITY_MOUNT, has_belt=True,
                   has_range=True)
    c.steadiness.step_cv, c.steadiness._sway2, c.steadiness._sway_weight = 0.01, 0.01, 1.0
    assert c.steadiness.is_steady
    c.ingest_range(0.0, c.config.range.rear_edge_m - 0.8)
    assert c._is_steady()
    c.ingest_range(0.1, c.config.range.rear_edge_m - 0.7)  # 0.7 m from the edge: inside 0.5 + 0.25
    assert not c._is_steady()


def test_the_direction_changes_are_kept_for_replay():
    c = core()
    c.direction._change(3.0, Cue.TURNED, 180.0)
    assert list(c.direction.changes) == [Change(3.0, Direction.FORWARD, Cue.TURNED, 180.0)]


def test_status_says_the_direction_the_ceiling_and_steadiness_within_80_columns():
    from monitor.cli.status import describe

    snap = {"state": "armed", "relay_energized": True, "walking": "backward", "belt_mps": 0.55,
            "walking_declared": "forward", "direction": {"cue": "turned", "gait": "walking"},
            "ceiling": {"ceiling_mps": 0.6, "is_over": False, "applies": True, "rise_in_s": 96.0},
            "steadiness": {"step_cv": 0.031, "sway_radps": 0.42, "is_steady": True}, "loop": {}}
    lines = describe(snap, now_wall_s=0.0)
    assert "  direction backward after a turn; gait walking" in lines
    assert "  backward ceiling 0.60 m/s; rises after 1.6 more steady min" in lines
    assert "  steadiness: step time variability 3.1 %, sway 0.42 rad/s (steady)" in lines
    snap.update(walking="unknown", walking_declared="auto", direction={"cue": None, "gait": "none"},
                ceiling={"ceiling_mps": 0.6, "is_over": True, "applies": True, "rise_in_s": 96.0},
                steadiness={"step_cv": None, "sway_radps": None})
    lines = describe(snap, now_wall_s=0.0)
    assert "  direction unknown since the start (session.walking = auto); gait none" in lines
    assert "  backward ceiling 0.60 m/s: ABOVE IT, slow the belt" in lines
    assert "  steadiness: step time variability not yet, sway not yet" in lines
    assert max(len(line) for line in lines) <= 80
