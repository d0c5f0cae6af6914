"""Writing a `Trace` as a treadmill-trace v1 file, atomically.

Values are written so that reading the file back gives the same float64
numbers exactly; the format is declared in `monitor.formats.trace_format`.
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np

from monitor.formats.atomic import replace_file
from monitor.formats.trace_format import MAGIC, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Trace, TraceError, meta_problem


def write_trace(path: str | os.PathLike[str], trace: Trace) -> None:
    """Write `trace` as a v1 trace at `path`, gzip-compressed if the name ends in .gz.

    Values are written with `repr`, so reading the file back gives the same
    float64 numbers exactly. A failed read (imu_ok False) and NaN in an optional
    column become empty cells. The file is written under a temporary name in
    the same folder and renamed into place, so `path` never holds half a trace.
    Raises `TraceError` (line None) if the trace is not valid or cannot be written.
    """
    name = os.fspath(path)
    payload = _format_trace(name, trace).encode("utf-8")
    if name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    _write_atomically(name, payload)


def _format_trace(name: str, trace: Trace) -> str:
    meta_lines = []
    for key, value in trace.meta.items():
        if not isinstance(key, str) or not key or ":" in key or any(c.isspace() for c in key):
            raise TraceError(
                name,
                None,
                f"metadata key {key!r} cannot be written: use a word without ':' or spaces",
            )
        problem = meta_problem(key, value)
        if problem:
            raise TraceError(name, None, problem)
        try:
            encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TraceError(
                name, None, f"metadata {key!r} cannot be written as JSON: {e}"
            ) from None
        meta_lines.append(f"# {key}: {encoded}")
    if trace.range_m is not None and "rear_edge_m" not in trace.meta:
        raise TraceError(
            name, None, "a trace with range_m needs the rear_edge_m metadata key; add it to meta"
        )

    t = trace.t_s
    if not np.isfinite(t).all():
        bad = int(np.flatnonzero(~np.isfinite(t))[0])
        raise TraceError(name, None, f"t_s[{bad}] is {t[bad]!r}; every sample needs a finite time")
    steps = np.diff(t)
    if not (steps > 0).all():
        bad = int(np.flatnonzero(~(steps > 0))[0]) + 1
        raise TraceError(
            name,
            None,
            f"t_s must be strictly increasing: t_s[{bad}] = {t[bad]!r} is not after "
            f"t_s[{bad - 1}] = {t[bad - 1]!r}",
        )
    imu = np.concatenate([trace.accel_mps2, trace.gyro_radps], axis=1)
    bad_ok = trace.imu_ok & ~np.isfinite(imu).all(axis=1)
    if bad_ok.any():
        bad = int(np.flatnonzero(bad_ok)[0])
        raise TraceError(
            name,
            None,
            f"sample {bad} (t = {t[bad]!r}) has imu_ok True but a NaN or infinite IMU value; "
            "set imu_ok False for a failed read",
        )

    names = list(REQUIRED_COLUMNS)
    cells = [_format_column(t)]
    failed = np.flatnonzero(~trace.imu_ok)
    for k in range(6):
        column = _format_column(imu[:, k])
        for i in failed.tolist():
            column[i] = ""
        cells.append(column)
    for col_name in OPTIONAL_COLUMNS:
        values = getattr(trace, col_name)
        if values is None:
            continue
        if np.isinf(values).any():
            bad = int(np.flatnonzero(np.isinf(values))[0])
            raise TraceError(
                name, None, f"{col_name}[{bad}] is infinite; use NaN for no new reading"
            )
        names.append(col_name)
        cells.append(_format_column(values))

    lines = [MAGIC, *meta_lines, ",".join(names)]
    lines.extend(map(",".join, zip(*cells)))
    return "\n".join(lines) + "\n"


def _format_column(values: np.ndarray) -> list[str]:
    """Shortest round-tripping text of each value; NaN as an empty cell."""
    out = list(map(repr, values.tolist()))
    for i in np.flatnonzero(np.isnan(values)).tolist():
        out[i] = ""
    return out


def _write_atomically(name: str, payload: bytes) -> None:
    try:
        replace_file(name, payload)
    except OSError as e:
        raise TraceError(
            name,
            None,
            f"cannot write the trace: {e.strerror or e}; check that the folder exists, "
            "is writable and has free space (any file already under this name is unchanged)",
        ) from None
