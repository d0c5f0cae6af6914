"""The walker's body as the waist IMU sees it: gait, posture and events, synthesized.

Everything is computed for a whole scenario at once (numpy), from a script of
what the walker does: the speed they walk at, when they stop, stumble, fall, or
lose the clip. The trunk's attitude (pitch, roll, yaw) and the waist's linear
acceleration follow from that script. The IMU then reports the specific force
and the body angular rate, computed consistently from the attitude, in a
sensor frame mounted at an angle, with noise, bias and quantization.

Sizes are set from the SisFall waist recordings (`../shared/data`): step
frequency 1.35 to 2.3 Hz walking and 2.4 to 2.95 Hz jogging; vertical
acceleration spread 1.1 to 4.4 m/s² walking and 6 to 15 m/s² jogging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

G = 9.80665
JOG_FROM_MPS = 2.1  # people switch from walking to jogging at about 7.5 km/h
HIP_HEIGHT_M = 1.0  # the waist's height above the feet, the radius of a fall
# How far the hips land from the feet: knees bend and hands reach out, so much
# less than the stiff-body reach of HIP_HEIGHT_M.
LANDING_REACH_M = {"forward": 0.6, "backward": 0.5}
HEEL_STRIKE_S = 0.012  # width of the heel-strike jolt
TURN_S = 1.8  # a half turn on the spot takes about 1.8 s in healthy adults (Salarian et al. 2009)
PUSH_S = 0.15  # a trip or a slip sets the body toppling over this long, not in an instant


@dataclass(frozen=True)
class Fall:
    """A fall that starts at onset_s: the body topples about the feet."""

    onset_s: float
    direction: str  # "forward", "backward", "left", "right": relative to the walker's body
    push_radps: float = 1.0  # initial toppling rate: a trip pushes, a slip pushes harder
    impact_rad: float = 1.35  # trunk angle at which the waist meets the deck (about 77 degrees)
    stumble_first: bool = False  # a trip: the foot catches before the body topples


@dataclass(frozen=True)
class Stumble:
    """A stumble at onset_s that the walker recovers from."""

    onset_s: float
    direction: str = "forward"  # which way the trunk pitches, relative to the body
    pitch_rad: float = 0.25


def step_hz(speed_mps: np.ndarray, backward: bool) -> np.ndarray:
    """Cadence from walking speed; walking backwards takes shorter, quicker steps."""
    v = speed_mps * (1.4 if backward else 1.0)
    walking = 1.25 + 0.45 * v
    jogging = 2.45 + 0.15 * np.clip(v - JOG_FROM_MPS, 0, None)
    return np.where(v < JOG_FROM_MPS, walking, jogging)


def vertical_spread_mps2(speed_mps: np.ndarray, backward: bool) -> np.ndarray:
    """Standard deviation of the waist's vertical acceleration at this speed."""
    v = speed_mps * (1.4 if backward else 1.0)
    return np.where(v < JOG_FROM_MPS, 0.6 + 1.6 * v, 6.0 + 3.0 * np.clip(v - JOG_FROM_MPS, 0, None))


def bump(t: np.ndarray, start_s: float, rise_s: float, fall_s: float) -> np.ndarray:
    """0 before start, a smooth rise to 1 over rise_s, a smooth fall back to 0 over fall_s."""
    up = np.clip((t - start_s) / rise_s, 0, 1)
    down = np.clip((t - start_s - rise_s) / fall_s, 0, 1)
    return np.sin(np.pi / 2 * up) ** 2 * np.cos(np.pi / 2 * down) ** 2


def ramp(t: np.ndarray, start_s: float, length_s: float) -> np.ndarray:
    """0 before start, rising smoothly to 1 over length_s."""
    x = np.clip((t - start_s) / length_s, 0, 1)
    return np.sin(np.pi / 2 * x) ** 2


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def topple(t: np.ndarray, fall: Fall) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """An inverted pendulum about the feet, pushed over from the onset (the push
    builds up over PUSH_S) until impact, then held. Returns the trunk angle (rad),
    its rate (rad/s) and angular acceleration (rad/s²) per sample, and the impact time."""
    angle = np.zeros_like(t)
    rate = np.zeros_like(t)
    accel = np.zeros_like(t)
    theta, omega = 0.0, 0.0
    impact_s = math.inf
    i0 = int(np.searchsorted(t, fall.onset_s))
    for i in range(max(i0, 1), len(t)):
        if theta >= fall.impact_rad:
            angle[i] = fall.impact_rad
            continue
        dt = t[i] - t[i - 1]
        alpha = G / HIP_HEIGHT_M * math.sin(theta)
        if t[i] - fall.onset_s < PUSH_S:
            alpha += fall.push_radps / PUSH_S
        omega += alpha * dt
        theta = min(theta + omega * dt, fall.impact_rad)
        angle[i], rate[i], accel[i] = theta, omega, alpha
        if theta >= fall.impact_rad:
            impact_s = float(t[i])
            rate[i], accel[i] = 0.0, 0.0
    return angle, rate, accel, impact_s


@dataclass
class Motion:
    """What the body did, in the treadmill frame, sample by sample."""

    t_s: np.ndarray
    accel_mps2: np.ndarray  # IMU specific force, sensor frame
    gyro_radps: np.ndarray  # IMU angular rate, sensor frame
    imu_mount: np.ndarray  # v_treadmill = imu_mount . v_sensor, walker upright
    fall_shift_m: np.ndarray  # how far the waist moved toward the rear by toppling
    waist_height_m: np.ndarray  # above the deck: a range beam at waist height loses a falling walker
    impact_s: float  # when a fall met the deck (inf: no fall)


def synthesize(t: np.ndarray, speed_mps: np.ndarray, gait_on: np.ndarray, *, backward: bool,
               falls: tuple[Fall, ...] = (), stumbles: tuple[Stumble, ...] = (),
               clip_off_s: float | None = None, side_step_s: float | None = None,
               turns_s: tuple[float, ...] = (), rng: np.random.Generator) -> Motion:
    """The IMU's view of a walker.

    speed_mps: the walker's stepping speed at each sample (follows the belt);
    gait_on: 1 while stepping, 0 while standing, anything between while changing.
    """
    n = len(t)
    backward_sign = -1.0 if backward else 1.0
    # Half turns (counter-clockwise, each over TURN_S): the facing turns, and from the turn's middle
    # on the walker walks the other way round (on a moving belt, a half turn changes the gait's direction).
    facing = np.full(n, 0.0 if not backward else math.pi)
    is_bwd = np.full(n, backward)
    for start_s in turns_s:
        facing = facing + np.pi * ramp(t, start_s, TURN_S)
        is_bwd = np.where(t >= start_s + TURN_S / 2, ~is_bwd, is_bwd)
    sign_t = np.where(is_bwd, -1.0, 1.0)
    cadence = np.where(is_bwd, step_hz(speed_mps, True), step_hz(speed_mps, False))
    dt = np.diff(t, prepend=t[0])
    phase = 2 * np.pi * np.cumsum(cadence * dt) + rng.uniform(0, 2 * np.pi)
    spread = np.where(is_bwd, vertical_spread_mps2(speed_mps, True), vertical_spread_mps2(speed_mps, False)) * gait_on
    eff = speed_mps * np.where(is_bwd, 1.4, 1.0)
    jogging = (eff >= JOG_FROM_MPS) & (gait_on > 0.5)

    # Linear acceleration of the waist in the walker's frame (forward, left, up).
    walk_up = spread * (1.2 * np.sin(phase) + 0.7 * np.sin(2 * phase + 0.6))
    duty = np.clip(0.72 - 0.12 * (eff - JOG_FROM_MPS), 0.5, 0.72)  # ground contact per step
    p = np.mod(phase, 2 * np.pi) / (2 * np.pi)
    peak = G * np.pi / (2 * duty)
    jog_up = np.where(p < duty, peak * np.sin(np.pi * np.clip(p / duty, 0, 1)), 0.0) - G
    up = np.where(jogging, jog_up * gait_on, walk_up)
    # Foot strike: a short jolt at each foot's contact, far sharper jogging than walking
    # (SisFall peaks: 14 to 28 m/s² walking, 28 to 89 m/s² jogging).
    step_period_s = 1.0 / cadence
    since_contact_s = (p - np.where(jogging, duty / 2, 0.15)) * step_period_s  # jogging: mid-stance
    since_contact_s = np.mod(since_contact_s + 0.5 * step_period_s, step_period_s) - 0.5 * step_period_s
    jolt = np.exp(-(since_contact_s / HEEL_STRIKE_S) ** 2)
    strike = np.where(jogging, 12.0 + 14.0 * np.clip(eff - JOG_FROM_MPS, 0, None), 2.0 + 4.0 * eff)
    up = up + strike * jolt * gait_on
    # The trunk is braked along its way of travel at each contact. Walking forward the fore-aft
    # acceleration leads the vertical by about a quarter step (SisFall: 77 to 141 degrees); jogging
    # brakes in the first half of stance and pushes in the second, around the vertical peak at
    # mid-stance. Backwards is forward reversed in time: the same timing the other way round.
    walk_fwd = np.sin(phase + sign_t * 1.5)
    jog_fwd = sign_t * np.sin(phase - np.pi * duty)
    fwd = np.sqrt(2) * (0.4 + 0.7 * eff) * gait_on * np.where(jogging, jog_fwd, walk_fwd)
    left = np.sqrt(2) * (0.8 + 0.5 * eff) * gait_on * np.sin(phase / 2)

    # Trunk attitude relative to upright walking posture: pitch forward, roll right, yaw.
    nod = np.where(jogging, 0.045, 0.012) * gait_on * jolt  # the trunk nods at each heel strike
    pitch = (0.02 + 0.015 * eff) * gait_on * np.sin(phase + 1.2) + nod + 0.01 * np.sin(2 * np.pi * 0.2 * t)
    roll = (0.03 + 0.01 * eff) * gait_on * np.sin(phase / 2 + 0.3) + 0.01 * np.sin(2 * np.pi * 0.13 * t)
    yaw = (0.08 + 0.03 * eff) * gait_on * np.sin(phase / 2 + 1.0)

    for stumble in stumbles:
        sign = 1.0 if stumble.direction == "forward" else -1.0
        s0 = stumble.onset_s
        pitch = pitch + sign * stumble.pitch_rad * bump(t, s0, 0.22, 0.6)
        fwd = fwd - sign * 20.0 * bump(t, s0 + 0.02, 0.05, 0.1)
        up = up - 10.0 * bump(t, s0 + 0.02, 0.1, 0.12) + 24.0 * bump(t, s0 + 0.3, 0.04, 0.1)

    fall_shift = np.zeros(n)
    waist_height = np.full(n, HIP_HEIGHT_M)
    impact_s = math.inf
    for fall in falls:
        if fall.stumble_first:
            fwd = fwd - 15.0 * bump(t, fall.onset_s - 0.1, 0.04, 0.08)
        angle, rate, acc, impact = topple(t, fall)
        impact_s = min(impact_s, impact)
        waist_height = np.minimum(waist_height, HIP_HEIGHT_M * np.cos(angle))
        after = t >= fall.onset_s
        # Waist kinematics about the feet: height L cos(a), reach L sin(a).
        reach_acc = HIP_HEIGHT_M * (acc * np.cos(angle) - rate ** 2 * np.sin(angle))
        drop_acc = -HIP_HEIGHT_M * (acc * np.sin(angle) + rate ** 2 * np.cos(angle))
        landing = bump(t, impact, 0.02, 0.06) if math.isfinite(impact) else 0.0
        v_impact = HIP_HEIGHT_M * np.max(rate) * math.sin(fall.impact_rad)
        quiet = 1.0 - ramp(t, fall.onset_s, 0.2)  # the gait fades out as the fall starts
        up = up * quiet + np.where(after, drop_acc, 0.0) + landing * v_impact / 0.05
        fwd, left = fwd * quiet, left * quiet
        pitch, roll, yaw = pitch * quiet, roll * quiet, yaw * quiet
        sign = {"forward": 1.0, "backward": -1.0, "left": -1.0, "right": 1.0}[fall.direction]
        if fall.direction in ("forward", "backward"):
            pitch = pitch + sign * angle
            fwd = fwd + sign * np.where(after, reach_acc, 0.0)
            # toward the walker's front: for a forward walker that is the console (less rearward)
            reach = LANDING_REACH_M[fall.direction] * np.sin(angle) / math.sin(fall.impact_rad)
            fall_shift -= sign * backward_sign * reach
        else:
            roll = roll + sign * angle
            left = left - sign * np.where(after, reach_acc, 0.0)

    if side_step_s is not None:
        left = left + 6.0 * bump(t, side_step_s, 0.15, 0.15) - 6.0 * bump(t, side_step_s + 0.3, 0.15, 0.15)
        up = up + 4.0 * bump(t, side_step_s + 0.1, 0.1, 0.1) - 4.0 * bump(t, side_step_s + 0.35, 0.1, 0.1)

    # Walker frame to treadmill frame: facing the console (0), the rear (pi), or turning between.
    cos_f, sin_f = np.cos(facing), np.sin(facing)
    accel_world = np.column_stack([cos_f * fwd - sin_f * left, sin_f * fwd + cos_f * left, up + G])
    body = _rot_z(facing + yaw) @ _rot_y(pitch) @ _rot_x(roll)  # body -> world

    if clip_off_s is not None:
        # The clip comes off: the IMU drops onto the belt, lands, and is dragged, tilted.
        off = t >= clip_off_s
        tip = 1.6 * ramp(t, clip_off_s, 0.35)
        drop = bump(t, clip_off_s, 0.05, 0.3)  # nearly free fall, then resting on the deck
        body = np.where(off[:, None, None], body @ _rot_x(tip) @ _rot_y(0.4 * tip), body)
        landing = bump(t, clip_off_s + 0.35, 0.02, 0.05)
        rumble = rng.normal(0, 0.6, (n, 3))
        accel_world = np.where(off[:, None], np.column_stack(
            [rumble[:, 0], rumble[:, 1], G * (1 - drop) + 60.0 * landing + rumble[:, 2]]), accel_world)

    # Body angular rate from the attitude itself, so gyro and accelerometer agree.
    rdot = np.gradient(body, t, axis=0)
    omega = np.einsum("nji,njk->nik", body, rdot)  # R^T dR/dt, a skew matrix
    gyro_body = np.column_stack([omega[:, 2, 1], omega[:, 0, 2], omega[:, 1, 0]])
    accel_body = np.einsum("nji,nj->ni", body, accel_world)

    # The clip: sensor axes X right, Y down, Z forward (a belt-buckle mount), a few degrees off.
    clip = _rot_x(np.array(-math.pi / 2))[()] @ _rot_y(np.array(rng.normal(0, 0.08)))[()] \
        @ _rot_x(np.array(rng.normal(0, 0.08)))[()]  # sensor -> body
    accel = accel_body @ clip  # (clip^T v) for each row
    gyro = gyro_body @ clip
    bias_a = rng.normal(0, 0.1, 3)
    bias_g = rng.normal(0, 0.01, 3)
    accel = np.round((accel + bias_a + rng.normal(0, 0.05, (n, 3))) / 0.0383) * 0.0383
    gyro = np.round((gyro + bias_g + rng.normal(0, 0.008, (n, 3))) / 0.00122) * 0.00122
    mount = _rot_z(np.array(facing[0]))[()] @ clip  # sensor -> treadmill, walker upright, as calibrated
    return Motion(t, accel, gyro, mount, fall_shift, waist_height, impact_s)
