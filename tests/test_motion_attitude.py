"""The detector's sense of up and of the walker's own upright: what the fall rules' tilt is measured from.

Driven through MotionDetector.update() with exact synthetic samples: a walker
standing, bending, leaning for a long time, or falling (the accelerometer
reading nothing, so only the gyroscope can tell how the trunk turns).
"""

from __future__ import annotations

import math

import pytest

from monitor.safety.motion import MotionDetector, MotionParams

G = 9.80665
RATE_HZ = 200.0


def run(d: MotionDetector, t0_s: float, t1_s: float, a, g=(0.0, 0.0, 0.0), each=None):
    """Samples from t0_s to t1_s at RATE_HZ; `each(d)` after every sample when given."""
    n = round((t1_s - t0_s) * RATE_HZ)
    for k in range(n):
        d.update(t0_s + k / RATE_HZ, *a, *g)
        if each is not None:
            each(d)


def angle_from_up(d: MotionDetector) -> float:
    return math.acos(max(-1.0, min(1.0, d.uz)))


def reference_angle(d: MotionDetector) -> float:
    """The angle between the walker's own upright and the treadmill's vertical."""
    return math.acos(max(-1.0, min(1.0, d.rz)))


def leaning(angle_rad: float, azimuth_rad: float = 0.7) -> tuple[float, float, float]:
    """Gravity as the sensor sees it on a trunk leaning angle_rad, toward azimuth_rad."""
    s = math.sin(angle_rad)
    return (G * s * math.cos(azimuth_rad), G * s * math.sin(azimuth_rad), G * math.cos(angle_rad))


@pytest.mark.parametrize("gyro", [(0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)])
def test_falling_the_trunk_turns_by_what_the_gyro_integrates_about_either_horizontal_axis(gyro):
    """In free fall the accelerometer reads nothing, so only the gyroscope turns the up
    estimate: 1 rad/s for 0.5 s about a horizontal axis leaves it 0.5 rad from the vertical
    (not less: a fall must not look slower than it is)."""
    d = MotionDetector()
    run(d, 0.0, 3.0, (0.0, 0.0, G))
    run(d, 3.0, 3.5, (0.0, 0.0, 0.0), gyro)
    assert angle_from_up(d) == pytest.approx(0.5, abs=0.005)


def test_a_walker_settled_in_a_deep_bend_is_judged_against_the_bend():
    """Bent forward 1 rad (57 degrees, leaning on the handrails) for half a minute: the
    walker's own upright follows to the bend, so the tilt the fall rules see returns to
    nothing and a fall from the bend is measured from there."""
    d = MotionDetector()
    run(d, 0.0, 5.0, (0.0, 0.0, G))
    run(d, 5.0, 45.0, leaning(1.0))
    assert reference_angle(d) == pytest.approx(1.0, abs=0.01)
    assert d.tilt_rad < 0.01


@pytest.mark.parametrize("lean_rad", [0.3, 1.0])
def test_the_upright_reference_stays_a_direction_while_it_follows_a_lean(lean_rad):
    """Its length stays one at every sample, so the tilt is the true angle between the
    trunk's up direction now and the walker's own upright."""
    def check(d: MotionDetector):
        assert math.isclose(d.rx ** 2 + d.ry ** 2 + d.rz ** 2, 1.0, rel_tol=1e-12)
        c = (d.ux * d.rx + d.uy * d.ry + d.uz * d.rz)
        assert d.tilt_rad == pytest.approx(math.acos(min(1.0, c)), abs=1e-12)

    d = MotionDetector()
    run(d, 0.0, 5.0, (0.0, 0.0, G))
    run(d, 5.0, 7.0, leaning(lean_rad), each=check)
    assert d.tilt_rad > 0.1 * lean_rad  # the reference was still following


def test_until_four_seconds_after_a_start_the_upright_is_the_mean_posture_since_start():
    """Right after the warm-up the upright reference is the running mean of the posture
    since the start (a tenth of a second of upright counted in), not a 4 s average that
    would still hold the nominal upright: a walker who leans at 0.6 s and stays is, one
    1.4 s later, judged against the posture of all that time."""
    d = MotionDetector()
    run(d, 0.0, 0.6, (0.0, 0.0, G))
    run(d, 0.6, 2.0, leaning(0.4))
    # the up estimate has followed to 0.31 rad (with its own 1 s); the running mean of it
    # to 0.13, where a 4 s average would have moved only 0.06
    assert 0.10 < reference_angle(d) < 0.16
    assert d.tilt_rad < 0.21


@pytest.mark.parametrize("length_mps2,is_kept", [(1e-6, True), (math.nextafter(1e-6, 0.0), False)])
def test_an_up_estimate_pulled_almost_to_nothing_keeps_its_direction_down_to_a_millionth(length_mps2, is_kept):
    """A reading that pulls the up estimate to a millionth of its length (an impossible
    specific force, half way between up and its opposite) still leaves its direction;
    shorter than that there is no direction left and it starts again from upright."""
    params = MotionParams(startup_prior_s=0.05)  # 0.05 s later the pull is exactly half way
    d = MotionDetector(params)
    d.update(0.0, 0.0, 0.0, G, 0.0, 0.0, 0.0)
    ax = 2.0 * length_mps2 * G  # half way: ux = ax / (2 g), uz = (1 - 1) / 2 = 0
    for _ in range(8):  # the float whose pull lands on exactly that length
        if 0.5 * (ax / G) == length_mps2:
            break
        ax = math.nextafter(ax, 0.0 if 0.5 * (ax / G) > length_mps2 else math.inf)
    assert 0.5 * (ax / G) == length_mps2
    d.update(0.05, ax, 0.0, -G, 0.0, 0.0, 0.0)
    assert (d.ux, d.uy, d.uz) == ((1.0, 0.0, 0.0) if is_kept else (0.0, 0.0, 1.0))
