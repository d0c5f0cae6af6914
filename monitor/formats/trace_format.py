"""The trace format's declarations, once: treadmill-trace v1 (see shared/TRACE_FORMAT.md).

The magic line, the columns, the metadata keys and what makes a metadata value
wrong, the `Trace` a file holds in memory, and `TraceError`. The reader and the
writer (`trace_reader`, `trace_writer`) both take the format from here.

Choices this project makes where the format leaves room (the reader and writer
follow them):

- A required cell (ax..gz) that is empty, not a number, NaN or infinite makes
  the whole sample a failed read: `imu_ok` is False and all six IMU values are
  NaN. An empty or non-numeric `t`, or a `t` that is not finite, is an error.
- An optional cell (`belt_mps`, `range_m`) that is empty or NaN means "no new
  reading" (NaN); text or an infinite value there is an error.
- Blank lines are allowed only at the end of the file. A blank line elsewhere,
  before or after the header, is an error.
- The sample rate is not checked: gaps in `t` are real events (a sensor that
  stops) for the monitor to notice, not damage to the file.
- Metadata values must be strict JSON (no NaN / Infinity); a key may be given
  only once; `source` and unknown keys are kept as they are, unchecked.
- A file must hold at least one sample: a header with no rows is an error, not
  a trace in which nothing happened.
- Bounds, so that no file can make a reader or a replay run without end or
  without limit of memory: a line is at most `MAX_LINE_BYTES` bytes, a file at
  most `MAX_ROWS` rows, every `t` within ±`MAX_ABS_TIME_S` seconds (there a
  float still resolves a microsecond, so the loop's ticks and the samples stay
  apart; a Unix time stamp fits), and `rear_edge_m` at most `MAX_REAR_EDGE_M`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC = "# treadmill-trace v1"
IMU_COLUMNS = ("ax", "ay", "az", "gx", "gy", "gz")
REQUIRED_COLUMNS = ("t",) + IMU_COLUMNS
OPTIONAL_COLUMNS = ("belt_mps", "range_m")
WALKING_VALUES = ("forward", "backward")
ROTATION_TOLERANCE = 1e-3  # max |R·Rᵀ − I| element for imu_mount to count as a rotation

MAX_LINE_BYTES = 4096  # a v1 row is under 200 bytes; metadata lines a few hundred
MAX_ROWS = 20_000_000  # 2.8 hours at 2000 Hz, 28 hours at 200 Hz
MAX_ABS_TIME_S = 2.0 ** 32  # 136 years; a float's step there is 1e-6 s
MAX_REAR_EDGE_M = 10.0  # a treadmill belt is 1.2 to 2.2 m long; 10 m is no treadmill

EXAMPLE_HEADER = ",".join(REQUIRED_COLUMNS)


class TraceError(Exception):
    """A trace file that cannot be read or written.

    `str(err)` is one line, ``path:line: message`` (``path: message`` when no
    line applies), in the style of compiler errors so editors can jump to it.
    """

    def __init__(self, path: str, line: int | None, message: str) -> None:
        # Passing all three to Exception keeps the error picklable, so it can
        # cross a process boundary when replay runs traces in parallel.
        super().__init__(path, line, message)
        self.path = path
        self.line = line  # 1-based line in the file, or None
        self.message = message

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(eq=False)
class Trace:
    """One trace in memory, in SI units, one entry per sample.

    - `t_s` (n,): sample times in seconds, strictly increasing.
    - `accel_mps2` (n, 3): ax, ay, az in m/s², sensor frame.
    - `gyro_radps` (n, 3): gx, gy, gz in rad/s, sensor frame.
    - `imu_ok` (n,) bool: False for a failed read; that sample's six IMU values
      are NaN.
    - `belt_mps`, `range_m` (n,) or None: None when the file has no such
      column; NaN where there was no new reading.
    - `meta`: the metadata values as parsed JSON, unknown keys included. The
      `label` key (ground truth for evaluation) is kept here so tools can score
      a replay, but the monitor must never read it.
    """

    path: str
    meta: dict[str, Any]
    t_s: np.ndarray
    accel_mps2: np.ndarray
    gyro_radps: np.ndarray
    imu_ok: np.ndarray
    belt_mps: np.ndarray | None = None
    range_m: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Coerce and check shapes once, so a trace built in memory (by the
        # bench simulator, say) fails here rather than deep in the monitor.
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        n = self.t_s.shape[0] if self.t_s.ndim == 1 else -1
        if n < 0:
            raise ValueError(f"t_s must be 1-D, got shape {self.t_s.shape}")
        self.accel_mps2 = np.asarray(self.accel_mps2, dtype=np.float64)
        self.gyro_radps = np.asarray(self.gyro_radps, dtype=np.float64)
        self.imu_ok = np.asarray(self.imu_ok, dtype=bool)
        for name in ("accel_mps2", "gyro_radps"):
            shape = getattr(self, name).shape
            if shape != (n, 3):
                raise ValueError(f"{name} must have shape ({n}, 3), got {shape}")
        if self.imu_ok.shape != (n,):
            raise ValueError(f"imu_ok must have shape ({n},), got {self.imu_ok.shape}")
        for name in OPTIONAL_COLUMNS:
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float64)
                if value.shape != (n,):
                    raise ValueError(f"{name} must have shape ({n},), got {value.shape}")
                setattr(self, name, value)
        self.meta = dict(self.meta)

    @property
    def samples(self) -> int:
        """Number of samples (rows)."""
        return int(self.t_s.shape[0])

    @property
    def duration_s(self) -> float:
        """Last sample time minus first, in seconds; 0.0 for fewer than 2 samples."""
        if self.samples < 2:
            return 0.0
        return float(self.t_s[-1] - self.t_s[0])

    @property
    def imu_mount(self) -> np.ndarray | None:
        """Rotation R (3×3) with v_treadmill = R · v_sensor, or None when unknown."""
        value = self.meta.get("imu_mount")
        return None if value is None else np.array(value, dtype=np.float64)

    @property
    def walking(self) -> str:
        """Which way the walker faces: "forward" (default) or "backward"."""
        return self.meta.get("walking", "forward")

    @property
    def rear_edge_m(self) -> float | None:
        """Distance in metres from the range sensor to the rear edge of the belt, or None."""
        value = self.meta.get("rear_edge_m")
        return None if value is None else float(value)


def meta_problem(key: str, value: Any) -> str | None:
    """What is wrong with one metadata value, or None. Unknown keys are never wrong."""
    if key == "imu_mount":
        return _imu_mount_problem(value)
    if key == "walking":
        if value not in WALKING_VALUES:
            return f'walking must be "forward" or "backward", found {_short_json(value)}'
    elif key == "rear_edge_m":
        if not is_finite_number(value) or not 0 < value <= MAX_REAR_EDGE_M:
            return (
                f"rear_edge_m must be a number of metres above 0 and at most {MAX_REAR_EDGE_M:g} "
                f"(range sensor to the rear edge of the belt), found {_short_json(value)}"
            )
    # "label" is ground truth for evaluation: kept, never checked, never read.
    return None


def _imu_mount_problem(value: Any) -> str | None:
    example = "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]"
    if not (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(r, list) and len(r) == 3 for r in value)
        and all(is_finite_number(x) for r in value for x in r)
    ):
        return (
            f"imu_mount must be a 3x3 list of numbers (rows of R, v_treadmill = R . v_sensor), "
            f"e.g. {example}; found {_short_json(value)}"
        )
    r = np.array(value, dtype=np.float64)
    error = float(np.abs(r @ r.T - np.eye(3)).max())
    if error > ROTATION_TOLERANCE:
        return (
            "imu_mount is not a rotation: its rows are not orthonormal (R times R-transposed "
            f"is off the identity by {error:.3g}, allowed {ROTATION_TOLERANCE:g}); "
            "check the matrix for a typo"
        )
    if np.linalg.det(r) < 0:
        return (
            "imu_mount has determinant -1: it is a mirror image, not a rotation; "
            "one axis has the wrong sign"
        )
    return None


def _short_json(value: Any) -> str:
    """A metadata value as a message shows it: at most 60 characters."""
    try:
        text = json.dumps(value)
    except (ValueError, RecursionError):  # an integer past Python's int-to-str limit, deep nesting
        return "a value too long to show"
    return text if len(text) <= 60 else text[:57] + "..."


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """A number a float can hold: not NaN or infinite, and no integer beyond 1e308."""
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= 1e308
    return is_number(value) and math.isfinite(value)
