"""The IMU's mount: what the detectors see is the sensor's reading turned into the treadmill frame.

A miswired or mis-signed mount is how a real install goes wrong, so these tests use
mounts whose nine elements are all different (a swapped element, a lost sign or a
wrong row changes what the detectors see), and readings whose six values are all
different. The identity mount, and a turn about one axis, would hide such mistakes.
"""

import math

import numpy as np
import pytest

from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.drift import StepDrift
from monitor.safety.motion import MotionDetector
from monitor.safety.mount import from_gravity
from tests.support import G, with_settings


def short(x: float) -> float:
    return math.nextafter(x, -math.inf)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """A rotation (treadmill = R . sensor) from three turns, so that no element is 0, 1 or repeated."""
    cz, sz, cy, sy, cx, sx = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return rz @ ry @ rx


MOUNTS = [rotation(0.9, 0.5, -0.5), rotation(0.1, 1.0, 0.5), rotation(0.4, 0.7, 3.0)]


def test_the_mounts_have_nine_different_elements():
    for mount in MOUNTS:
        values = np.abs(mount.ravel())
        gaps = np.diff(np.sort(values))
        assert values.min() > 0.05 and gaps.min() > 0.05  # no element is 0, and none is another's +-
        assert mount @ mount.T == pytest.approx(np.eye(3)) and np.linalg.det(mount) == pytest.approx(1.0)


class SeenMotion(MotionDetector):
    """The real motion detector, keeping the treadmill-frame samples it was given."""

    def __init__(self, params) -> None:
        super().__init__(params)
        self.seen: list[tuple[float, ...]] = []

    def update(self, t_s, ax, ay, az, gx, gy, gz):
        self.seen.append((t_s, ax, ay, az, gx, gy, gz))
        return super().update(t_s, ax, ay, az, gx, gy, gz)


class SeenSteps(StepDrift):
    """The real step-drift check, keeping the vertical specific force it was given."""

    def __init__(self, steps, **kw) -> None:
        super().__init__(steps, **kw)
        self.seen: list[tuple[float, float]] = []

    def sample(self, t_s, vertical_accel_mps2):
        self.seen.append((t_s, vertical_accel_mps2))
        super().sample(t_s, vertical_accel_mps2)


def core_with(mount: np.ndarray | None) -> SafetyCore:
    config = with_settings(Config(), drift={"enabled": True}, belt={"enabled": True}, range={"enabled": False})
    core = SafetyCore(config, start_s=0.0, imu_mount=None if mount is None else mount.tolist(),
                      has_belt=True, has_range=False)
    core.motion = SeenMotion(config.motion)
    old = core.step_drift
    core.step_drift = SeenSteps(old.steps, min_belt_mps=old.min_belt_mps, max_carry_m=old.max_carry_m, start_s=0.0)
    return core


@pytest.mark.parametrize("mount", MOUNTS)
def test_acceleration_and_rate_reach_the_detectors_in_the_treadmill_frame(mount):
    core = core_with(mount)
    accel_sensor = np.array([1.25, -2.5, 9.0])
    gyro_sensor = np.array([0.3, -0.7, 1.9])
    core.ingest_imu([(0.01, *accel_sensor, *gyro_sensor)])
    (t_s, *seen), = core.motion.seen
    assert t_s == 0.01
    assert seen[:3] == pytest.approx(mount @ accel_sensor, abs=1e-12)
    assert seen[3:] == pytest.approx(mount @ gyro_sensor, abs=1e-12)
    assert core.step_drift.seen == [(0.01, pytest.approx((mount @ accel_sensor)[2], abs=1e-12))]


@pytest.mark.parametrize("mount", MOUNTS)
def test_each_axis_of_the_sensor_lands_on_its_treadmill_axis(mount):
    """One sensor axis at a time: the detectors see that axis's column of the mount,
    so every element and its sign is checked on its own."""
    core = core_with(mount)
    for axis in range(3):
        unit = np.zeros(3)
        unit[axis] = 3.0
        accel = unit + [0.5, 0.25, 0.125]  # distinct values keep the accelerometer out of any check
        core.ingest_imu([(0.01 * (axis + 1), *accel, *unit)])
        _, *seen = core.motion.seen[-1]
        assert seen[3:] == pytest.approx(3.0 * mount[:, axis], abs=1e-12)
        assert seen[:3] == pytest.approx(mount @ accel, abs=1e-12)


def test_a_walker_standing_upright_is_upright_to_the_detectors_whatever_the_mount():
    for mount in MOUNTS:
        core = core_with(mount)
        gravity_in_sensor = mount.T @ [0.0, 0.0, G]
        spin = mount.T @ [0.0, 0.0, 0.5]  # turning on the spot: a yaw, never a tilt
        core.ingest_imu([(k / 200, *gravity_in_sensor, *spin) for k in range(1, 401)])
        detector = core.motion
        assert (detector.ux, detector.uy, detector.uz) == pytest.approx((0.0, 0.0, 1.0), abs=0.02)
        assert detector.w_radps == pytest.approx(0.0, abs=0.02)  # a yaw is not the trunk tilting
        assert core.step_drift.seen[-1][1] == pytest.approx(G)


def test_a_pitch_of_the_trunk_is_seen_as_a_tilting_rate_whatever_the_mount():
    for mount in MOUNTS:
        core = core_with(mount)
        gravity_in_sensor = mount.T @ [0.0, 0.0, G]
        pitch = mount.T @ [0.0, 0.8, 0.0]  # the trunk pitching forward at 0.8 rad/s
        core.ingest_imu([(k / 200, *gravity_in_sensor, *pitch) for k in range(1, 41)])
        assert core.motion.w_radps == pytest.approx(0.8, rel=0.05)


def test_without_a_mount_the_first_sample_sets_the_vertical_and_later_ones_keep_it():
    core = core_with(None)
    tilted = (3.0, -4.0, 8.0)
    core.ingest_imu([(0.01, *tilted, 0.1, 0.2, 0.3), (0.02, 0.0, 0.0, G, 0.1, 0.2, 0.3)])
    first, second = core.motion.seen
    assert first[1:4] == pytest.approx((0.0, 0.0, math.sqrt(89.0)), abs=1e-12)
    # the second sample is turned by the rotation found once, from the first, not found anew from itself
    expected = np.array(from_gravity(*tilted)).reshape(3, 3) @ [0.0, 0.0, G]
    assert second[1:4] == pytest.approx(expected, abs=1e-12)
    assert abs(second[3] - G) > 1.0


@pytest.mark.parametrize("norm,is_identity", [(1e-9, False), (short(1e-9), True)])
def test_a_reading_too_small_to_show_gravity_leaves_the_frame_alone(norm, is_identity):
    r = from_gravity(norm, 0.0, 0.0)
    assert (r == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)) is is_identity
    if not is_identity:
        assert np.array(r).reshape(3, 3) @ [1.0, 0.0, 0.0] == pytest.approx([0.0, 0.0, 1.0])


def test_a_sensor_upside_down_is_turned_half_a_turn():
    assert from_gravity(0.0, 0.0, -G) == (1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0)
