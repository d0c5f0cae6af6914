"""A trip's problems in words a person understands: each value beside the threshold it crossed.

One table, SENTENCES, maps each check's name (a problem's `detail`, and for the
motion detector its rule) to one sentence. A check nobody wrote a sentence for
is still shown, plainly, with its values. Thresholds come from the trip record
when it holds them, else from the settings the caller passes (the defaults, or
the person's config file), and the sentence says which.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Callable, Mapping

from monitor.config.schema import Config

Values = Mapping[str, float]
Sentence = Callable[[Values, Values], str]


def thresholds_from_config(config: Config, walking: str = "forward") -> dict[str, float]:
    """Every threshold a sentence may name, by the name the sentences use."""
    out: dict[str, float] = {f.name: getattr(config.motion, f.name) for f in fields(config.motion)}
    imu, belt, rng, drift, loop = config.imu, config.belt, config.range, config.drift, config.loop
    out.update({
        "imu_timeout_s": imu.timeout_s, "imu_frozen_s": imu.frozen_s,
        "imu_failed_reads_max": float(imu.failed_reads_max), "imu_max_accel_mps2": imu.max_accel_mps2,
        "imu_max_gyro_radps": imu.max_gyro_radps,
        "belt_timeout_s": belt.timeout_s, "overspeed_confirm_s": belt.overspeed_confirm_s,
        "max_speed_mps": belt.max_forward_mps if walking == "forward" else belt.max_backward_mps,
        "range_timeout_s": rng.timeout_s, "min_rear_margin_m": rng.min_rear_margin_m,
        "drift_max_no_step_s": drift.max_no_step_s, "drift_max_carry_m": drift.max_carry_m,
        "drift_min_belt_mps": drift.min_belt_mps, "loop_late_s": loop.late_s,
        "confirm_s": config.ceiling.confirm_s,
    })
    return out


def _num(x: float, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "unknown"
    return f"{x:.{digits}f}"


def _rad(x: float) -> str:
    """An angle as the record keeps it (rad) and as people think of it (degrees)."""
    if x is None or not math.isfinite(x):
        return "unknown"
    return f"{x:.2f} rad = {math.degrees(x):.0f} deg"


def _kmh(mps: float) -> str:
    return f"{_num(mps)} m/s = {_num(mps * 3.6, 1)} km/h"


def _down(v: Values) -> float:
    """The downward waist speed (the record keeps the vertical velocity, up positive)."""
    return -v.get("vertical_velocity_mps", math.nan)


def _waist(v: Values) -> str:
    """Where the waist was going, for a learned score (which has no descent condition of its own)."""
    down = _down(v) + 0.0  # a level waist (-0.0 m/s up) is not "-0.00 m/s" down
    if down < 0.0:
        return f"the waist rising at {_num(-down)} m/s"
    return f"the waist going down at {_num(down)} m/s"


def _drop(v: Values, t: Values) -> str:
    return (f"the waist was dropping at {_num(_down(v))} m/s (a fall needs more than "
            f"{_num(t['fall_drop_velocity_mps'])} m/s) while the trunk had tilted {_rad(v.get('tilt_rad'))} "
            f"from the walker's own upright (more than {_rad(t['fall_drop_tilt_rad'])})")


def _topple(v: Values, t: Values) -> str:
    return (f"the trunk was toppling: tilted {_rad(v.get('tilt_rad'))} (more than "
            f"{_rad(t['fall_topple_tilt_rad'])}), turning at {_num(v.get('tilt_rate_radps'))} rad/s (more than "
            f"{_num(t['fall_topple_rate_radps'])} rad/s), with the waist going down at {_num(_down(v))} m/s "
            f"(more than {_num(t['fall_topple_velocity_mps'])} m/s) and not straightening up")


def _sag(v: Values, t: Values) -> str:
    rms = v.get("gait_rms_velocity_mps", math.nan)
    ratio = t["stumble_velocity_ratio"]
    return (f"the waist sagged at {_num(_down(v))} m/s (a stumble needs more than "
            f"{_num(t['stumble_velocity_mps'])} m/s, and more than {_num(ratio, 1)} x the walk's own bounce of "
            f"{_num(rms)} m/s = {_num(ratio * rms)} m/s) while the trunk turned at "
            f"{_num(v.get('tilt_rate_radps'))} rad/s (more than {_num(t['stumble_rate_radps'])} rad/s)")


def _jolt(v: Values, t: Values) -> str:
    rms = v.get("gait_rms_velocity_mps", math.nan)
    ratio = t["stumble_jolt_descent_ratio"]
    said = (f"a jolt of {_num(v.get('jolt_mps2'), 1)} m/s² (the walker's usual: "
            f"{_num(v.get('jolt_level_mps2'), 1)} m/s²) came with the trunk turning at "
            f"{_num(v.get('tilt_rate_radps'))} rad/s (their usual: {_num(v.get('tilt_rate_level_radps'))} rad/s); "
            f"together they score {_num(v.get('jolt_score_ratio'), 1)} (a stumble needs more than "
            f"{_num(t['stumble_jolt_score_ratio'], 1)})")
    if not _down(v) > ratio * rms:  # a record from before the rule asked for a sag: its rule did not
        return said
    return (f"{said} while the waist sagged at {_num(_down(v))} m/s (more than "
            f"{_num(ratio, 1)} x the walk's own bounce of {_num(rms)} m/s = {_num(ratio * rms)} m/s)")


# A learned score's inputs in words (monitor/safety/fall_model.py and stumble_model.py FEATURES).
TERM_WORDS = {
    "log_descent_ratio": "descent against the walk's own bounce",
    "log_descent_mps": "descent",
    "log_tilt_rad": "tilt",
    "log_tilt_rate_ratio": "trunk turning against their usual",
    "log_tilt_rate_radps": "trunk turning",
    "log_jolt_ratio": "jolt against their usual",
    "log_jolt_mps2": "jolt",
}


def _terms(v: Values, prefix: str) -> str:
    """Each input's share of a learned score, largest first, named in words."""
    terms = sorted(((x, k[len(prefix):-len("_logit")]) for k, x in v.items() if k.startswith(prefix)), reverse=True)
    return ", ".join(f"{TERM_WORDS.get(name, name)} {x:+.2f}" for x, name in terms)


def _model(v: Values, t: Values) -> str:
    return (f"the learned fall score was {_num(v.get('model_score_logit'))} (a fall needs more than "
            f"{_num(v.get('model_threshold_logit'))}), {_waist(v)} with the "
            f"trunk tilted {_rad(v.get('tilt_rad'))} and turning at {_num(v.get('tilt_rate_radps'))} rad/s; "
            "its terms: " + _terms(v, "model_term_"))


def _stumble_model(v: Values, t: Values) -> str:
    return (f"the learned stumble score was {_num(v.get('stumble_model_score_logit'))} (a stumble needs more than "
            f"{_num(v.get('stumble_model_threshold_logit'))}): a jolt of {_num(v.get('jolt_mps2'), 1)} m/s² "
            f"(the walker's usual: {_num(v.get('jolt_level_mps2'), 1)} m/s²) with the trunk turning at "
            f"{_num(v.get('tilt_rate_radps'))} rad/s (their usual: {_num(v.get('tilt_rate_level_radps'))} rad/s) "
            f"and {_waist(v)}; its terms: " + _terms(v, "stumble_model_term_"))


MOTION_RULES: dict[str, Sentence] = {"drop": _drop, "topple": _topple, "model": _model, "stumble": _sag,
                                     "jolt": _jolt, "stumble_model": _stumble_model}


def _motion(v: Values, t: Values) -> str:
    rule = next((k[len("rule_"):] for k in v if k.startswith("rule_")), None)
    return MOTION_RULES[rule](v, t)  # a rule this version does not know: KeyError, shown plainly


def _ceiling(v: Values, t: Values) -> str:
    rise_s = v.get("rise_in_s", math.nan)
    rise = (f"it rises after {_num(rise_s / 60, 0) if rise_s >= 60 else _num(rise_s, 0)} more steady "
            f"{'minutes' if rise_s >= 60 else 'seconds'} of backward walking near it"
            if math.isfinite(rise_s) and rise_s > 0 else "it rises with steady backward walking near it")
    return (f"backward at {_kmh(v.get('belt_mps', math.nan))}, above your ceiling of "
            f"{_kmh(v.get('ceiling_mps', math.nan))} for {_num(v.get('over_for_s'), 1)} s (at most "
            f"{_num(t['confirm_s'], 0)} s are allowed); {rise}")


def _plain(v: Values) -> str:
    return ", ".join(f"{k} = {_num(x, 3)}" for k, x in v.items()) or "no values recorded"


SENTENCES: dict[str, Sentence] = {
    "fall_detected": _motion,
    "stumble_detected": _motion,
    "near_rear_edge": lambda v, t: (
        f"the walker's waist was {_num(v.get('rear_margin_m'))} m from the rear edge of the belt "
        f"(it must stay at least {_num(v.get('min_rear_margin_m', t['min_rear_margin_m']))} m away)"),
    "stopped_stepping": lambda v, t: (
        f"no step for {_num(v.get('no_step_s'), 2)} s (the limit is "
        f"{_num(v.get('no_step_limit_s', t['drift_max_no_step_s']), 2)} s"
        + (f", from the walker's own step period of {_num(v['step_period_s'], 2)} s" if "step_period_s" in v
           else ", their step period not yet known")
        + f") while the belt, at {_num(v.get('belt_mps'))} m/s, carried the walker back "
        f"{_num(v.get('carried_m'))} m (the limit is {_num(t['drift_max_carry_m'])} m)"),
    "belt_overspeed": lambda v, t: (
        f"the belt ran at {_kmh(v.get('belt_mps', math.nan))} for {_num(v.get('over_for_s'))} s "
        f"(the limit is {_kmh(v.get('max_speed_mps', t['max_speed_mps']))}, for at most "
        f"{_num(t['overspeed_confirm_s'])} s)"),
    "imu_stale": lambda v, t: (
        f"no new IMU sample for {_num(v.get('age_s'), 3)} s (the limit is {_num(t['imu_timeout_s'], 3)} s): "
        f"check the waist clip's cable"),
    "imu_no_data": lambda v, t: (
        f"the IMU sent no sample at all in the {_num(v.get('since_start_s'), 3)} s since the start "
        f"(the limit is {_num(t['imu_timeout_s'], 3)} s): check the waist clip's cable"),
    "imu_frozen": lambda v, t: (
        f"the IMU repeated exactly the same reading for {_num(v.get('unchanged_s'))} s (a live sensor "
        f"never does for {_num(t['imu_frozen_s'])} s)"),
    "imu_read_failed": lambda v, t: (
        f"{_num(v.get('failed_reads_in_a_row'), 0)} IMU reads failed in a row (at most "
        f"{_num(t['imu_failed_reads_max'], 0)} are tolerated): check the waist clip's cable"),
    "imu_out_of_range": lambda v, t: (
        f"the IMU read {_num(v.get('max_abs_accel_mps2'), 1)} m/s² and {_num(v.get('max_abs_gyro_radps'), 1)} "
        f"rad/s, beyond what it can measure ({_num(t['imu_max_accel_mps2'], 0)} m/s², "
        f"{_num(t['imu_max_gyro_radps'], 0)} rad/s): garbage, not a reading"),
    "imu_time_not_increasing": lambda v, t: "the IMU sent a sample stamped no later than the one before",
    "imu_overflow": lambda v, t: "the IMU's buffer overflowed: samples were lost",
    "imu_device_reset": lambda v, t: "the IMU chip reset itself and lost its settings",
    "belt_stale": lambda v, t: (
        f"no reading from the belt-speed sensor for {_num(v.get('age_s'), 3)} s (the limit is "
        f"{_num(t['belt_timeout_s'], 3)} s)"),
    "range_stale": lambda v, t: (
        f"no reading from the range sensor for {_num(v.get('age_s'), 3)} s (the limit is "
        f"{_num(t['range_timeout_s'], 3)} s)"),
    "belt_out_of_range": lambda v, t: (
        f"the belt-speed sensor reported {_num(v.get('belt_mps'))} m/s, which no belt does"),
    "range_out_of_range": lambda v, t: (
        f"the range sensor reported {_num(v.get('range_m'))} m, which is no distance it can measure"),
    "loop_late": lambda v, t: (
        f"the monitor's loop ran {_num(v.get('tick_interval_s'), 3)} s after its previous tick (the limit is "
        f"{_num(t['loop_late_s'], 3)} s): the computer running it was too busy"),
    "relay_feedback": lambda v, t: "the relay's monitoring contact did not follow the command",
    "imu_driver_failed": lambda v, t: _driver_broke("IMU"),
    "belt_driver_failed": lambda v, t: _driver_broke("belt-speed sensor's"),
    "range_driver_failed": lambda v, t: _driver_broke("range sensor's"),
    "relay_driver_failed": lambda v, t: _driver_broke("relay's"),
    "relay_keeper_released": lambda v, t: (
        f"the monitor's loop sent no heartbeat for {_num(v.get('silent_s'), 3)} s, so the relay keeper released "
        f"the relay: the monitor's process froze or was stopped"),
    "relay_keeper_lost": lambda v, t: (
        "the relay keeper process ended: the relay line was let go and its pull-down released the relay; "
        "see the journal for why the keeper ended"),
    "above_backward_ceiling": _ceiling,
}


def _driver_broke(name: str) -> str:
    return (f"the {name} driver broke its contract (it raised what no driver may, or returned something that is "
            f"not a reading): a software fault; the journal says which, in a line beside the trip's")


def explain(detail: str, values: Values, thresholds: Values) -> str:
    """One problem as a sentence; a check without a sentence, plainly with its values."""
    values = {k: (math.nan if x is None else float(x)) for k, x in values.items()}
    # A record may keep a threshold among the values (e.g. max_speed_mps): it is the one that applied.
    thresholds = {**thresholds, **{k: x for k, x in values.items() if k in thresholds and math.isfinite(x)}}
    sentence = SENTENCES.get(detail)
    if sentence is None:
        return f"{detail}: {_plain(values)}"
    try:
        return sentence(values, thresholds)
    except (KeyError, TypeError, ValueError):  # a threshold the record and settings lack: say it plainly
        return f"{detail}: {_plain(values)}"


def merged_thresholds(config_thresholds: Values, recorded: Any) -> dict[str, float]:
    """The settings' thresholds, overridden by any the record holds (numbers only)."""
    out = dict(config_thresholds)
    if isinstance(recorded, dict):
        out.update({k: float(x) for k, x in recorded.items()
                    if isinstance(x, (int, float)) and not isinstance(x, bool)})
    return out
