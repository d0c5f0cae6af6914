"""The IMU's mount: the rotation from the sensor frame to the treadmill frame.

Known from calibration (config `imu.mount`) or a trace's `imu_mount`. When it is
unknown, the vertical is found from gravity in the first sample: z then points
up, but the heading (which way x points) stays arbitrary, so every detector that
may run without a known mount uses only heading-free quantities.
"""

from __future__ import annotations

import math
from typing import Sequence

Rotation = tuple[float, float, float, float, float, float, float, float, float]

IDENTITY: Rotation = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def from_matrix(matrix: Sequence[Sequence[float]]) -> Rotation:
    """A row-major rotation from a 3x3 nested sequence."""
    return tuple(float(matrix[i][j]) for i in range(3) for j in range(3))  # type: ignore[return-value]


def from_gravity(ax: float, ay: float, az: float) -> Rotation:
    """The smallest rotation that turns this specific force (gravity at rest) onto +z."""
    norm = math.sqrt(ax * ax + ay * ay + az * az)
    if norm < 1e-9:
        return IDENTITY
    ux, uy, uz = ax / norm, ay / norm, az / norm
    if uz < -1.0 + 1e-9:  # upside down: half a turn about x
        return (1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0)
    # Rodrigues' formula for the rotation taking u onto z: axis v = u x z, cos = uz.
    vx, vy = uy, -ux
    k = 1.0 / (1.0 + uz)
    return (
        1.0 - vy * vy * k, vx * vy * k, vy,
        vx * vy * k, 1.0 - vx * vx * k, -vx,
        -vy, vx, 1.0 - (vx * vx + vy * vy) * k,
    )

