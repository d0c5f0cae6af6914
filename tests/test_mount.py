"""Finding the vertical from gravity when the mount is unknown."""

import numpy as np
import pytest

from monitor.safety.mount import IDENTITY, from_gravity, from_matrix
from tests.support import random_rotation


def as_matrix(r):
    return np.array(r).reshape(3, 3)


@pytest.mark.parametrize("gravity", [(0, -9.8, 0), (1, 2, 3), (0, 0, 9.8), (0, 0, -9.8), (5, -5, 1e-12),
                                     (1e-12, 0, -9.8)])
def test_gravity_is_turned_onto_up(gravity):
    r = as_matrix(from_gravity(*gravity))
    up = r @ np.array(gravity, float)
    assert up[:2] == pytest.approx([0, 0], abs=1e-9) and up[2] == pytest.approx(np.linalg.norm(gravity))
    assert r @ r.T == pytest.approx(np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)


def test_random_mounts_are_undone_up_to_heading():
    rng = np.random.default_rng(3)
    for _ in range(50):
        mount = random_rotation(rng)  # v_treadmill = mount . v_sensor
        gravity_in_sensor = mount.T @ np.array([0, 0, 9.8])
        assert as_matrix(from_gravity(*gravity_in_sensor)) @ gravity_in_sensor == pytest.approx([0, 0, 9.8])


def test_no_gravity_at_all_leaves_the_frame_alone():
    assert from_gravity(0.0, 0.0, 0.0) == IDENTITY


def test_a_matrix_becomes_a_row_major_tuple():
    assert from_matrix([[0, 0, 1], [-1, 0, 0], [0, -1, 0]]) == (0, 0, 1, -1, 0, 0, 0, -1, 0)
