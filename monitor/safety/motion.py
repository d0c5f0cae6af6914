"""Fall and stumble detection from a waist IMU, streaming, pure Python.

Input is one IMU sample at a time in the treadmill frame (x forward, y left,
z up for the upright walker; specific force in m/s², angular rate in rad/s).
Only heading-invariant quantities are used, so a walker facing the rear, an
unknown heading, or a mount that is only roughly upright give the same result.

Per sample the detector keeps:

* ``u``: the up direction (unit vector) in the sensor frame. It is propagated
  with the gyroscope (du/dt = u x w) and pulled toward the accelerometer
  vector a/g0 with time constant ``attitude_tau_s``. The pull is *linear* in
  the accelerometer (not normalised and not gated), so over a stride the pull
  averages to gravity, and during partial free fall (|a| small) it barely
  moves ``u``.
* ``r``: the walker's own recent upright, a slow average of ``u``
  (``reference_tau_s``). ``tilt`` is the angle between ``u`` and ``r``: how
  far the trunk has left the posture it held for the last seconds, whatever
  the direction (forward, backward, sideways) and whatever the mount offset.
* ``v``: vertical velocity, the leaky integral of (a . u - mean of a . u),
  i.e. vertical acceleration in the earth frame minus gravity. Subtracting the
  slow mean instead of a fixed 9.81 removes accelerometer scale and offset
  errors; the leak (``velocity_leak_tau_s``) keeps it from drifting.
* ``w``: the angular rate about horizontal axes (|w - (w . u) u|, the trunk
  tilting rate; yaw, i.e. turning, is excluded), low-passed over
  ``rate_filter_tau_s``.

* ``j``: the jolt, |a - g0 u| (specific force minus gravity along the up
  estimate, i.e. the dynamic acceleration, any direction), low-passed over
  ``jolt_filter_tau_s`` so a single-sample spike and the sample rate do not
  matter; and the walker's own levels: ``jolt_level`` (RMS of ``j``) and
  ``rate_level`` (RMS of ``w``) over the last seconds (``jolt_level_tau_s``,
  ``gait_rms_tau_s``). These levels, and the gait level of ``v``, start from
  jogging values with the weight of ``level_prior_s`` of gait and follow a
  running mean of the walker's own gait until their time constants take over,
  so they are the walker's own within a second or two of walking. While the
  walker stands still (the RMS of ``j`` over ~0.5 s below
  ``still_activity_mps2``) these levels relax back to their start-up (jogging)
  values instead of decaying to the quiet of standing, and their running mean
  starts again, so the first steps after standing are judged as the first
  steps of a session.

Decisions (``classify``), v < 0 being downward:

* fall, "drop": tilt > ``fall_drop_tilt_rad`` and -v > ``fall_drop_velocity_mps``;
* fall, "topple": tilt > ``fall_topple_tilt_rad``, w > ``fall_topple_rate_radps``,
  -v > ``fall_topple_velocity_mps``, and the trunk is not straightening up;
* fall, "model": the learned score of ``monitor.safety.fall_model`` (descent
  relative to the walker's gait level, tilt, trunk rate relative to the
  walker's own) above its trained threshold; judged only behind its gate
  (waist going down, trunk off its upright);
* stumble, "sag": -v > ``stumble_velocity_mps``, -v > ``stumble_velocity_ratio`` x
  the RMS of v over the recent gait, and w > ``stumble_rate_radps``: a drop
  of the waist far outside the walker's own rhythm (so jogging's large
  bounce does not count, a walker's sudden sag does);
* stumble, "jolt": (j / jolt_level, held for ``jolt_hold_s``) x (w / rate_level)
  > ``stumble_jolt_score_ratio`` while -v > ``stumble_jolt_descent_ratio`` x
  the walker's gait RMS: a foot-strike or trip jolt far above the walker's
  own, together with a trunk rotation far above the walker's own, as the
  waist sags. Both factors are relative to the same walker a few seconds
  earlier, so a jogger's hard heel strikes (large jolt, large rate level) do
  not count; the sag tells a stumble from a walker breaking into a jog or
  turning, whose waist stays level or rises.
* stumble, "stumble_model": the learned score of
  ``monitor.safety.stumble_model`` (the jolt, the trunk rate and the sag, each
  against the walker's own level, and the tilt) above its trained threshold;
  judged only behind its gate (the jolt score above a low bar). It sees the
  mild stumbles under the jolt rule's threshold; the jolt and sag rules stay
  the backstop.

The data-driven thresholds (the two tilts, the velocity ratio, the jolt
score) were set by one rule, ``bench/tune_motion.py``: 1.25 x the largest
value seen in the normal gait of 22 people (bench/devdata.py: walking,
jogging, walking bouts, treadmill walking after a stroke) while the rule's other conditions held; the models
are fitted by ``bench/train_motion.py``; see docs/detection.md.

A fall is usually preceded by a stumble, so the first Finding of a fall is
often reason "stumble"; both stop the belt.

Every filter uses each sample's own dt, so behaviour does not depend on the
sample rate. Warm-up: each average starts as a running mean (its time
constant is min(tau, time since start)), so estimates are usable after a
fraction of a second; see ``MotionParams.warmup_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from monitor.safety import fall_model, stumble_model
from monitor.safety.settings import setting

STANDARD_GRAVITY_MPS2 = 9.80665
STUMBLE_RULES = ("stumble", "jolt", "stumble_model")  # the rules whose finding is a stumble; the rest are falls


@dataclass(frozen=True)
class Finding:
    reason: str  # "fall" or "stumble"
    t_s: float  # time of the sample at which it fired
    values: dict[str, float] = field(default_factory=dict)  # the values that caused it, named with units


@dataclass(frozen=True)
class MotionParams:
    # --- estimation -------------------------------------------------------
    attitude_tau_s: float = setting(
        1.0, "time constant of the pull of the up vector toward the accelerometer; a stride (~1 s) is averaged out, gyro drift (<0.05 rad/s) stays below ~3 deg",
        min=0.1, max=10.0)
    reference_tau_s: float = setting(
        4.0, "time constant of the walker's own upright reference; slow against a fall (<1.5 s), fast enough to follow posture changes and mount offsets",
        min=0.5, max=30.0)
    gravity_tau_s: float = setting(
        10.0, "time constant of the mean vertical specific force removed before integrating; far slower than a fall, removes sensor scale error",
        min=1.0, max=60.0)
    velocity_leak_tau_s: float = setting(
        1.0, "leak of the vertical velocity integrator; a fall's descent lasts < 1 s, and a 0.1 m/s² residual bias gives only 0.1 m/s",
        min=0.1, max=10.0)
    rate_filter_tau_s: float = setting(
        0.04, "low-pass of the horizontal angular rate; removes single-sample spikes (sensor bounce) but keeps a 0.2 s rate burst",
        above=0.0, max=0.5)
    max_dt_s: float = setting(
        0.05, "longest hole bridged by holding the last sample (a few failed reads: the velocity error stays below ~0.2 m/s); a longer hole restarts everything with the warm-up",
        min=0.005, max=0.5)
    startup_prior_s: float = setting(
        0.1, "at start the averages hold the nominal upright (z up, 1 g) with the weight of this much data, so the first samples (maybe mid-stride) do not dominate",
        above=0.0, max=2.0)
    warmup_s: float = setting(
        0.5, "no trip is decided for this long after start or a restart; the reference is held equal to the attitude meanwhile, so the attitude's convergence cannot look like tilt. 0.5 s is shorter than the descent of a fall (~0.7-1 s) and a fall's last 0.3 s is still caught",
        min=0.0, max=3.0)
    # --- fall, rule 1: the body is dropping and the trunk is off its upright ---
    fall_drop_velocity_mps: float = setting(
        1.0, "downward waist velocity; walking stays below 0.7 m/s, a fall's descent passes 1 m/s well before impact (a 5 cm free drop already gives 1 m/s)",
        min=0.2, max=5.0)
    fall_drop_tilt_rad: float = setting(
        0.37, "trunk tilt from the walker's own upright (21 deg) required with the drop; 1.25 x the most tilt seen in normal gait (22 people) while the waist fell faster than fall_drop_velocity_mps (jogging's bounce comes with little tilt)",
        min=0.05, max=1.5)
    # --- fall, rule 2: the trunk is toppling -----------------------------------
    fall_topple_tilt_rad: float = setting(
        0.46, "trunk tilt from the walker's own upright (26 deg); 1.25 x the most tilt seen in normal gait (22 people: walking, jogging, gait initiation and stopping) while the other topple conditions held (0.363, a walker rising into gait)",
        min=0.05, max=1.5)
    fall_topple_rate_radps: float = setting(
        1.0, "trunk tilting rate (horizontal axes), so a slow lean or a bend is not a fall",
        min=0.1, max=10.0)
    fall_topple_velocity_mps: float = setting(
        0.4, "the waist must be moving down at least this fast (a toppling trunk pivots the waist down); a tilt with the waist not descending is a bend, sitting down at the end of a walk, or the clip slipping on the belt, not a fall. Was 0.3: a walker sitting down at the end of a walk came within 5 % of it",
        min=0.0, max=5.0)
    fall_topple_uprighting_rad: float = setting(
        0.35, "the topple rule is ignored when the trunk moved this much TOWARD the vertical of the treadmill frame (straightening up is not a fall); 0.35 rad (20 deg) = the mount error the caller guarantees, so no fall direction is blocked",
        min=0.0, max=1.5)
    # --- stumble: a sudden drop of the waist out of the walker's own rhythm ---
    stumble_velocity_mps: float = setting(
        0.5, "absolute floor on the downward waist velocity; walking rarely passes 0.5 m/s",
        min=0.1, max=5.0)
    stumble_velocity_ratio: float = setting(
        4.1, "the drop must also exceed this multiple of the RMS vertical velocity of the recent gait (jogging bounces a lot, walking little); 1.25 x the most seen in normal gait (22 people; 3.27, slow jogging). Was 3.9 while a fall's own descent could raise that RMS (gait_rms_clip_ratio)",
        min=1.0, max=20.0)
    stumble_rate_radps: float = setting(
        0.5, "together with some trunk tilting (rad/s), so a pure vertical bounce (a hop, a heavy step) is not a stumble",
        min=0.0, max=10.0)
    gait_rms_tau_s: float = setting(
        2.0, "time constant of the recent-gait RMS vertical velocity: a few strides",
        min=0.2, max=30.0)
    gait_rms_clip_ratio: float = setting(
        2.0, "each sample's vertical velocity counts toward the recent-gait RMS with at most this multiple of it, so a fall's own descent does not raise the level it is judged against within the fall (steady gait peaks at ~1.4 x its RMS and passes whole; the level can still rise e-fold in ~0.7 s, so a change of pace is learnt within seconds). 1.5 caught more but tripped on jogs; 100 turns it off",
        min=1.0, max=100.0)
    gait_rms_initial_mps: float = setting(
        0.5, "the RMS assumed at start / after gap(): a jogging level, so the stumble rule starts insensitive and becomes sensitive as the gait proves calm",
        min=0.0, max=5.0)
    # --- stumble, rule 2: a jolt and a trunk rotation far above the walker's own ---
    stumble_jolt_score_ratio: float = setting(
        9.8, "(jolt / walker's jolt level) x (trunk rate / walker's rate level) must exceed this while the waist sags (stumble_jolt_descent_ratio); both factors are ~1-3 in steady walking or jogging; 1.25 x the most seen in normal gait while the waist sagged (22 people; 7.84, a person after a stroke on a treadmill). The milder stumbles under it are the learned stumble score's",
        min=1.0, max=100.0)
    stumble_jolt_descent_ratio: float = setting(
        1.1, "the jolt rule also asks the waist to go down faster than this x the walker's gait RMS vertical velocity at the same moment: a stumble sags, while a walker breaking into a jog, turning or stopping scores as high a jolt with the waist level or rising (normal gait with a jolt score above 9 sagged at most 0.95 x its level, most stumbles more than 1.1 x)",
        min=0.0, max=10.0)
    jolt_filter_tau_s: float = setting(
        0.03, "low-pass of the jolt (dynamic acceleration magnitude); keeps a foot strike (~50 ms) and removes single-sample spikes, so 50 Hz and 2 kHz sensors see the same peak",
        above=0.0, max=0.2)
    jolt_level_tau_s: float = setting(
        2.0, "time constant of the walker's own jolt and trunk-rate levels (RMS): a few strides, so a change of pace is learnt within seconds",
        min=0.2, max=30.0)
    jolt_level_initial_mps2: float = setting(
        8.0, "the jolt level (RMS) assumed at start / after a gap: a jogging level (walking ~2-6, jogging ~7-16 m/s²), so the jolt rule starts insensitive and becomes sensitive as the gait proves calm",
        min=0.0, max=50.0)
    rate_level_initial_radps: float = setting(
        1.0, "the trunk-rate level (RMS) assumed at start / after a gap: a jogging level (walking ~0.2-0.9, jogging ~0.7-2 rad/s)",
        min=0.0, max=10.0)
    jolt_level_min_mps2: float = setting(
        2.0, "the jolt level never counts as lower than this (the calmest walking seen: ~2 m/s² RMS), so standing still, whose level is only sensor noise, does not make a step look like a jolt",
        min=0.1, max=20.0)
    rate_level_min_radps: float = setting(
        0.3, "the trunk-rate level never counts as lower than this (the calmest walking seen: ~0.2-0.3 rad/s RMS), for the same reason",
        min=0.01, max=5.0)
    jolt_hold_s: float = setting(
        0.2, "a jolt counts for this long (decaying hold), so a trip's jolt and the trunk rotation that follows it within a step are combined",
        min=0.0, max=1.0)
    # --- standing still: the levels relax back, so the first steps are not a trap ---
    still_activity_mps2: float = setting(
        0.8, "the walker counts as standing still while the RMS of the jolt over the last ~0.5 s is below this (standing reads ~0.2-0.6 m/s², the slowest walking seen ~1.3)",
        min=0.0, max=5.0)
    still_activity_tau_s: float = setting(
        0.5, "time constant of that short RMS: about one step, so a pause between steps is not standing",
        min=0.05, max=5.0)
    level_prior_s: float = setting(
        0.4, "the walker's levels start (and start again after standing still) from their start-up values with the weight of this much gait, then follow a running mean of the gait until their time constants take over: they are the walker's own after a second or two of walking, not after several time constants. 0.25-0.4 s caught three more stumbles in the first seconds of a walk under cross-validation (0.5 s two, 1 s one); below 0.4 s a jog's first 2 s set the fall model's threshold and the bench's falls were caught later; at or above the time constants it is the plain exponential average",
        above=0.0, max=30.0)
    still_relax_tau_s: float = setting(
        1.0, "while standing still the walker's levels relax back toward their start-up (jogging) values with this time constant, so the first heel strikes after standing are judged against a jogging level, not against the quiet of standing",
        min=0.1, max=30.0)
    # --- fall, learned: a score on the walker's own ratios (monitor/safety/fall_model.py) ---
    fall_model_enabled: bool = setting(
        True, "judge the learned fall score (bench/train_motion.py) besides the physics rules; the rules stay the backstop")
    fall_model_offset_logit: float = setting(
        0.0, "added to the model's trained threshold (log-odds); raise it to make the model less eager (each +1 asks ~20 % more descent or tilt), lower it only with your own walking recordings to check",
        min=-2.0, max=20.0)
    # --- stumble, learned: a score on the walker's own ratios (monitor/safety/stumble_model.py) ---
    stumble_model_enabled: bool = setting(
        True, "judge the learned stumble score (bench/train_motion.py) besides the physics rules; the jolt and sag rules stay the backstop")
    stumble_model_offset_logit: float = setting(
        0.0, "added to the stumble model's trained threshold (log-odds); raise it to make the model less eager, lower it only with your own walking recordings to check",
        min=-2.0, max=20.0)


class MotionDetector:
    def __init__(self, params: MotionParams = MotionParams(),
                 model: fall_model.FallModel = fall_model.TRAINED,
                 stumbles: stumble_model.StumbleModel = stumble_model.TRAINED) -> None:
        self.p = params
        self.model = model
        self.stumbles = stumbles
        self.model_threshold_logit = model.threshold_logit + params.fall_model_offset_logit
        self.stumble_threshold_logit = stumbles.threshold_logit + params.stumble_model_offset_logit
        # the jolt score above which something may be decided (the jolt rule, or the stumble model's gate)
        self._decide_jolt_score = params.stumble_jolt_score_ratio
        if params.stumble_model_enabled and stumbles.gate_jolt_score_ratio < self._decide_jolt_score:
            self._decide_jolt_score = stumbles.gate_jolt_score_ratio
        self._g0 = STANDARD_GRAVITY_MPS2
        # the descent above which something may be decided (a rule's velocity, or the fall model's gate)
        self._min_down_mps = min(params.fall_drop_velocity_mps, params.fall_topple_velocity_mps,
                                 params.stumble_velocity_mps, model.gate_descent_mps)
        # a sample's v^2 counts toward the gait level with at most this x the level's mean square
        self._gait_clip_sq = params.gait_rms_clip_ratio * params.gait_rms_clip_ratio
        self._reset()

    # state ------------------------------------------------------------------
    def _reset(self) -> None:
        self._t_prev: float | None = None
        self._gap_pending = False
        self._age_s = 0.0  # time since start / last gap
        self._level_age_s = 0.0  # time the walker's levels have been learning (since start, a gap or standing still)
        self.ux, self.uy, self.uz = 0.0, 0.0, 1.0
        self.rx, self.ry, self.rz = 0.0, 0.0, 1.0
        self.mean_av = self._g0
        self.v_mps = 0.0
        self.w_radps = 0.0
        self.tilt_rad = 0.0
        self.gait_ms = self.p.gait_rms_initial_mps ** 2  # mean square vertical velocity
        self.jolt_mps2 = 0.0  # low-passed dynamic acceleration magnitude
        self.jolt_ms = self.p.jolt_level_initial_mps2 ** 2  # walker's mean square jolt
        self.rate_ms = self.p.rate_level_initial_radps ** 2  # walker's mean square trunk rate
        self.jolt_ratio_held = 0.0  # jolt / jolt level, peak-held
        self.jolt_score = 0.0  # held jolt ratio x rate ratio
        self.activity_ms = self.p.jolt_level_initial_mps2 ** 2  # short mean square jolt (standing still?)
        self.is_still = False
        self.rate_level_radps = self.p.rate_level_initial_radps
        self.model_score_logit = -math.inf  # the fall model's score at this sample (-inf: not judged)
        self.stumble_score_logit = -math.inf  # the stumble model's score at this sample (-inf: not judged)

    def gap(self) -> None:
        """Samples were missing (failed reads / a hole).

        Decided at the next sample, when the length of the hole is known. A
        hole up to ``max_dt_s`` (a few failed reads) is bridged: the filters
        integrate over it as if the new sample had lasted the whole hole,
        which errs by at most a few hundredths of a radian and ~0.2 m/s. A
        longer hole restarts everything as at power-up (attitude, reference,
        velocity, gait level, rate filter), with the warm-up. A jump in time
        longer than ``max_dt_s`` without gap() is treated the same way.
        """
        self._gap_pending = True

    # one sample ---------------------------------------------------------------
    def update(self, t_s: float, ax: float, ay: float, az: float,
               gx: float, gy: float, gz: float) -> Finding | None:
        """One IMU sample in the treadmill frame (m/s², specific force: +9.81 on z at rest upright; rad/s). Returns a Finding the first time (and every time) a fall or stumble is detected at this sample, else None."""
        p = self.p
        tp = self._t_prev
        dt = 0.0
        if tp is not None:
            dt = t_s - tp
            if not (0.0 < dt <= p.max_dt_s):  # a hole, or a bad time stamp (NaN too)
                if dt <= 0.0 and not self._gap_pending:
                    dt = 0.0  # repeated or backward time stamp: no time passed
                else:
                    self._reset()
                    tp = None
                    dt = 0.0
            self._gap_pending = False
        self._t_prev = t_s
        age = self._age_s + dt
        self._age_s = age

        ux, uy, uz = self.ux, self.uy, self.uz
        # gyro propagation of the up vector (world vector seen in the body frame)
        ux, uy, uz = (ux + dt * (uy * gz - uz * gy),
                      uy + dt * (uz * gx - ux * gz),
                      uz + dt * (ux * gy - uy * gx))
        # linear pull toward a/g0; running mean during warm-up
        g0 = self._g0
        aw = age + p.startup_prior_s  # averaging window so far (running mean during warm-up)
        ta = p.attitude_tau_s
        k = dt / (aw if aw < ta else ta)
        ux += k * (ax / g0 - ux)
        uy += k * (ay / g0 - uy)
        uz += k * (az / g0 - uz)
        n = math.sqrt(ux * ux + uy * uy + uz * uz)
        if n < 1e-6:
            ux, uy, uz = 0.0, 0.0, 1.0
        else:
            ux /= n
            uy /= n
            uz /= n
        self.ux, self.uy, self.uz = ux, uy, uz

        # slow upright reference
        if age < p.warmup_s:
            # warm-up: the reference is the current estimate, so the
            # convergence of u from the nominal start cannot look like tilt
            rx, ry, rz = ux, uy, uz
        else:
            tr = p.reference_tau_s
            kr = dt / (aw if aw < tr else tr)
            rx = self.rx + kr * (ux - self.rx)
            ry = self.ry + kr * (uy - self.ry)
            rz = self.rz + kr * (uz - self.rz)
            n = math.sqrt(rx * rx + ry * ry + rz * rz)
            rx /= n
            ry /= n
            rz /= n
        self.rx, self.ry, self.rz = rx, ry, rz
        c = ux * rx + uy * ry + uz * rz
        tilt = math.acos(c if c < 1.0 else 1.0)
        self.tilt_rad = tilt

        # vertical velocity
        av = ax * ux + ay * uy + az * uz
        tg = p.gravity_tau_s
        kg = dt / (aw if aw < tg else tg)
        self.mean_av += kg * (av - self.mean_av)
        v = self.v_mps
        v += dt * ((av - self.mean_av) - v / p.velocity_leak_tau_s)
        self.v_mps = v

        # horizontal-axis angular rate
        wd = gx * ux + gy * uy + gz * uz
        wh2 = gx * gx + gy * gy + gz * gz - wd * wd
        wh = math.sqrt(wh2) if wh2 > 0.0 else 0.0
        kw = dt / (p.rate_filter_tau_s + dt)
        w = self.w_radps
        w += kw * (wh - w) if tp is not None else wh
        self.w_radps = w

        # jolt: dynamic acceleration magnitude, against the walker's own levels
        dx = ax - g0 * ux
        dy = ay - g0 * uy
        dz = az - g0 * uz
        jm = math.sqrt(dx * dx + dy * dy + dz * dz)
        tj = p.jolt_filter_tau_s
        j = self.jolt_mps2
        j += dt / (tj + dt) * (jm - j) if tp is not None else jm
        self.jolt_mps2 = j
        # the walker's own levels; while standing still they relax back to the start-up levels
        activity_ms = self.activity_ms
        activity_ms += dt / p.still_activity_tau_s * (j * j - activity_ms)
        self.activity_ms = activity_ms
        is_still = activity_ms < p.still_activity_mps2 * p.still_activity_mps2
        self.is_still = is_still
        jolt_ms = self.jolt_ms
        rate_ms = self.rate_ms
        if is_still:
            kr = dt / p.still_relax_tau_s
            jolt_ms += kr * (p.jolt_level_initial_mps2 * p.jolt_level_initial_mps2 - jolt_ms)
            rate_ms += kr * (p.rate_level_initial_radps * p.rate_level_initial_radps - rate_ms)
            self.gait_ms += kr * (p.gait_rms_initial_mps * p.gait_rms_initial_mps - self.gait_ms)
            self._level_age_s = 0.0
        else:
            # running mean over the gait so far (with the start-up values' weight), then exponential
            level_age = self._level_age_s + dt
            self._level_age_s = level_age
            lw = level_age + p.level_prior_s
            tl = p.jolt_level_tau_s
            jolt_ms += dt / (lw if lw < tl else tl) * (j * j - jolt_ms)
            tg = p.gait_rms_tau_s
            kg = dt / (lw if lw < tg else tg)
            rate_ms += kg * (w * w - rate_ms)
            # a fall's own descent must not raise the level it is judged against: each sample
            # counts at most gait_rms_clip_ratio x the level (steady gait peaks at ~1.4 x its RMS)
            gait_ms = self.gait_ms
            v2 = v * v
            cap = self._gait_clip_sq * gait_ms
            self.gait_ms = gait_ms + kg * ((v2 if v2 < cap else cap) - gait_ms)
        self.jolt_ms = jolt_ms
        self.rate_ms = rate_ms
        jolt_level = math.sqrt(jolt_ms)
        if jolt_level < p.jolt_level_min_mps2:
            jolt_level = p.jolt_level_min_mps2
        rate_level = math.sqrt(rate_ms)
        if rate_level < p.rate_level_min_radps:
            rate_level = p.rate_level_min_radps
        self.rate_level_radps = rate_level
        jr = j / jolt_level
        th = p.jolt_hold_s
        held = self.jolt_ratio_held * th / (th + dt) if th > 0.0 else 0.0
        if jr > held:
            held = jr
        self.jolt_ratio_held = held
        score = held * w / rate_level
        self.jolt_score = score

        self.model_score_logit = -math.inf
        self.stumble_score_logit = -math.inf
        if age < p.warmup_s:
            return None
        # --- decision (v < 0 is downward) ---
        if -v <= self._min_down_mps and score <= self._decide_jolt_score:
            return None  # fast path: every rule needs the waist moving down or a jolt score
        gait_rms = math.sqrt(self.gait_ms)
        model = self.model
        excess = -math.inf
        inputs: tuple[float, ...] = ()
        if p.fall_model_enabled and fall_model.is_gated(model, age, -v, tilt):
            inputs = fall_model.features(model, -v, gait_rms, tilt, w, rate_level, held)
            self.model_score_logit = fall_model.score(model, inputs)
            excess = self.model_score_logit - self.model_threshold_logit
        stumbles = self.stumbles
        stumble_excess = -math.inf
        stumble_inputs: tuple[float, ...] = ()
        if p.stumble_model_enabled and stumble_model.is_gated(stumbles, score):
            stumble_inputs = stumble_model.features(stumbles, held, jolt_level, w, rate_level, -v, gait_rms, tilt)
            self.stumble_score_logit = stumble_model.score(stumbles, stumble_inputs)
            stumble_excess = self.stumble_score_logit - self.stumble_threshold_logit
        incl_change = _acos(uz) - _acos(rz)
        rule = classify(p, tilt, v, w, gait_rms, incl_change, score, excess, stumble_excess)
        if rule is None:
            return None
        values = {
            "tilt_rad": tilt,
            "vertical_velocity_mps": v,
            "tilt_rate_radps": w,
            "gait_rms_velocity_mps": gait_rms,
            "inclination_change_rad": incl_change,
            "jolt_mps2": j,
            "jolt_level_mps2": jolt_level,
            "tilt_rate_level_radps": rate_level,
            "jolt_score_ratio": score,
            "rule_" + rule: 1.0,
        }
        if inputs:
            values["model_score_logit"] = self.model_score_logit
            values["model_threshold_logit"] = self.model_threshold_logit
            for name, weight, x in zip(fall_model.FEATURES, model.coefficients, inputs):
                if weight:  # an input the fit dropped explains nothing
                    values["model_" + name] = x
                    values["model_term_" + name + "_logit"] = weight * x
        if stumble_inputs:
            values["stumble_model_score_logit"] = self.stumble_score_logit
            values["stumble_model_threshold_logit"] = self.stumble_threshold_logit
            for name, weight, x in zip(stumble_model.FEATURES, stumbles.coefficients, stumble_inputs):
                if weight:
                    values["stumble_model_" + name] = x
                    values["stumble_model_term_" + name + "_logit"] = weight * x
        return Finding("stumble" if rule in STUMBLE_RULES else "fall", t_s, values)



def _acos(c: float) -> float:
    return math.acos(-1.0 if c < -1.0 else (1.0 if c > 1.0 else c))


def classify(p: MotionParams, tilt_rad: float, vertical_velocity_mps: float,
             tilt_rate_radps: float, gait_rms_velocity_mps: float,
             inclination_change_rad: float, jolt_score_ratio: float = 0.0,
             model_excess_logit: float = -math.inf,
             stumble_model_excess_logit: float = -math.inf) -> str | None:
    """The decision on one sample's features: "drop", "topple" or "model"
    (all a fall), "stumble", "jolt" or "stumble_model" (a stumble), or None.
    Pure, so each threshold can be tested alone.

    tilt_rad: angle between the trunk's up direction now and its recent
    upright; vertical_velocity_mps: positive up; tilt_rate_radps: angular
    rate about horizontal axes; gait_rms_velocity_mps: RMS of the vertical
    velocity over the last seconds; inclination_change_rad: inclination from
    the treadmill's z now minus that of the recent upright (negative when the
    trunk straightens up); jolt_score_ratio: (jolt / the walker's jolt
    level, peak-held) x (tilt rate / the walker's tilt-rate level);
    model_excess_logit: the fall model's score minus its threshold (-inf when
    the model was not judged at this sample); stumble_model_excess_logit: the
    same for the stumble model.
    """
    down = -vertical_velocity_mps
    if tilt_rad > p.fall_drop_tilt_rad and down > p.fall_drop_velocity_mps:
        return "drop"
    if (tilt_rad > p.fall_topple_tilt_rad and tilt_rate_radps > p.fall_topple_rate_radps
            and down > p.fall_topple_velocity_mps
            and inclination_change_rad > -p.fall_topple_uprighting_rad):
        return "topple"
    if model_excess_logit > 0.0:
        return "model"
    if (down > p.stumble_velocity_mps and tilt_rate_radps > p.stumble_rate_radps
            and down > p.stumble_velocity_ratio * gait_rms_velocity_mps):
        return "stumble"
    if (jolt_score_ratio > p.stumble_jolt_score_ratio
            and down > p.stumble_jolt_descent_ratio * gait_rms_velocity_mps):
        return "jolt"
    if stumble_model_excess_logit > 0.0:
        return "stumble_model"
    return None
