"""Reading and writing trace files (treadmill-trace v1, see shared/TRACE_FORMAT.md).

A trace is a recording of what the monitor's sensors said, sample by sample.
`read_trace` turns a `.csv` or `.csv.gz` file into a `Trace` of numpy arrays in
SI units; `write_trace` writes a `Trace` back out atomically. Every problem with
a file, from a missing file to one bad cell, is a `TraceError` that names the
file and, where there is one, the 1-based line.

Choices this module makes where the format leaves room (also in the docstrings
below):

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
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.atomic import replace_file

__all__ = ["Trace", "TraceError", "read_trace", "write_trace", "MAGIC"]

MAGIC = "# treadmill-trace v1"
IMU_COLUMNS = ("ax", "ay", "az", "gx", "gy", "gz")
REQUIRED_COLUMNS = ("t",) + IMU_COLUMNS
OPTIONAL_COLUMNS = ("belt_mps", "range_m")
WALKING_VALUES = ("forward", "backward")
ROTATION_TOLERANCE = 1e-3  # max |R·Rᵀ − I| element for imu_mount to count as a rotation

_GZIP_MAGIC = b"\x1f\x8b"
_EXAMPLE_HEADER = ",".join(REQUIRED_COLUMNS)


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


# --------------------------------------------------------------------------- reading


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a v1 trace (`.csv`, or gzip whatever its name) into a `Trace`.

    Raises `TraceError` for every problem, naming the file and the line.
    """
    name = os.fspath(path)
    text = _read_text(name)

    # Line 1: the magic line.
    end = text.find("\n")
    first = (text if end < 0 else text[:end]).rstrip("\r")
    if first != MAGIC:
        raise TraceError(name, 1, _magic_problem(first))

    # Metadata lines, then the header row.
    meta: dict[str, Any] = {}
    meta_lines: dict[str, int] = {}
    lineno = 1
    while True:
        if end < 0 or end + 1 >= len(text):
            raise TraceError(
                name,
                None,
                f"the file ends after line {lineno}, before the header row; expected a row of "
                f"column names such as {_EXAMPLE_HEADER} (was the recording cut short?)",
            )
        start = end + 1
        end = text.find("\n", start)
        line = (text[start:] if end < 0 else text[start:end]).rstrip("\r")
        lineno += 1
        if not line.startswith("#"):
            break
        key, value = _parse_meta_line(name, lineno, line)
        if key in meta:
            raise TraceError(
                name,
                lineno,
                f"metadata key {key!r} is given twice (first on line {meta_lines[key]}); "
                "keep one",
            )
        problem = _meta_problem(key, value)
        if problem:
            raise TraceError(name, lineno, problem)
        meta[key] = value
        meta_lines[key] = lineno
    # Note: meta keeps "label" (ground truth) as it is; nothing here reads it,
    # and the monitor must never read it.

    header_line = lineno
    columns = _parse_header(name, header_line, line)

    if "range_m" in columns and "rear_edge_m" not in meta:
        raise TraceError(
            name,
            header_line,
            "the range_m column needs the rear_edge_m metadata key (distance in metres "
            'from the range sensor to the rear edge of the belt), e.g. "# rear_edge_m: 1.2"',
        )

    body = "" if end < 0 else text[end + 1 :]
    del text
    if "\r" in body:
        body = body.replace("\r\n", "\n")
    body = body.rstrip()  # blank lines at the end are fine
    wanted = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in columns]
    index = [columns.index(c) for c in wanted]
    if not body:
        data = np.empty((0, len(wanted)), dtype=np.float64)
    else:
        data = _parse_body_fast(body, len(columns), index)
        if data is None:
            data = _parse_body_careful(name, body, header_line + 1, columns, wanted, index)

    imu = data[:, 1:7]
    imu_ok = np.isfinite(imu).all(axis=1)
    if not imu_ok.all():
        imu[~imu_ok] = np.nan
    optional = {c: np.ascontiguousarray(data[:, i]) for i, c in enumerate(wanted) if i >= 7}
    return Trace(
        path=name,
        meta=meta,
        t_s=np.ascontiguousarray(data[:, 0]),
        accel_mps2=np.ascontiguousarray(data[:, 1:4]),
        gyro_radps=np.ascontiguousarray(data[:, 4:7]),
        imu_ok=imu_ok,
        belt_mps=optional.get("belt_mps"),
        range_m=optional.get("range_m"),
    )


def _read_text(name: str) -> str:
    """The file's text: gunzipped if it starts with the gzip magic, UTF-8, BOM dropped."""
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise TraceError(name, None, "no such file; check the path") from None
    except IsADirectoryError:
        raise TraceError(name, None, "this is a folder, not a trace file") from None
    except OSError as e:
        raise TraceError(name, None, f"cannot read the file: {e.strerror or e}") from None

    if raw.startswith(_GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise TraceError(
                name,
                None,
                "the gzip data is truncated (the file ends before the compressed stream "
                "does); the recording was probably cut short or copied incompletely",
            ) from None
        except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise TraceError(
                name, None, f"the gzip data is damaged ({e}); copy the file again"
            ) from None

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise TraceError(
            name,
            line,
            f"not UTF-8 text (byte 0x{raw[e.start]:02x} cannot be decoded); "
            "is this really a trace file?",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _magic_problem(first: str) -> str:
    if not first:
        return f"expected {MAGIC!r} on line 1, found an empty line; is this a trace file?"
    shown = first if len(first) <= 60 else first[:57] + "..."
    version = first.removeprefix("# treadmill-trace ")
    if version != first and re.fullmatch(r"v\d+", version):
        return (
            f"found {shown!r} but this reader understands only {MAGIC!r}; "
            "convert the file or update treadguard"
        )
    if first.strip() == MAGIC:
        return f"expected exactly {MAGIC!r} on line 1, found {shown!r}; remove the extra spaces"
    return f"expected {MAGIC!r} on line 1, found {shown!r}; is this a trace file?"


def _parse_meta_line(name: str, lineno: int, line: str) -> tuple[str, Any]:
    key, colon, raw_value = line[1:].partition(":")
    key = key.strip()
    if not colon or not key or any(ch.isspace() for ch in key):
        raise TraceError(
            name,
            lineno,
            f"metadata lines look like '# key: value' with a JSON value, found {line[:60]!r}",
        )
    try:
        value = json.loads(raw_value, parse_constant=_reject_constant)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        raise TraceError(
            name,
            lineno,
            f"metadata {key!r} is not valid JSON ({reason}); the value must be JSON, "
            'e.g. strings in double quotes: # walking: "forward"',
        ) from None
    return key, value


def _reject_constant(word: str) -> Any:
    raise ValueError(f"{word} is not allowed in JSON")


def _parse_header(name: str, lineno: int, line: str) -> list[str]:
    if not line.strip():
        raise TraceError(
            name,
            lineno,
            f"expected the header row (column names such as {_EXAMPLE_HEADER}), "
            "found a blank line",
        )
    columns = [c.strip() for c in line.split(",")]
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            raise TraceError(
                name, lineno, f"column {c!r} appears twice in the header; keep one"
            )
        seen.add(c)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        which = ", ".join(missing)
        plural = "s" if len(missing) > 1 else ""
        raise TraceError(
            name,
            lineno,
            f"missing required column{plural} {which}; the header must name "
            f"{_EXAMPLE_HEADER} (in any order)",
        )
    return columns


def _parse_body_fast(body: str, ncols: int, index: list[int]) -> np.ndarray | None:
    """Parse the data rows with numpy; None when anything looks off.

    Returns the wanted columns (t, ax..gz, optional ones) only if every row is
    well formed and valid, so nothing here has to name a line: any doubt sends
    the caller to `_parse_body_careful`, which finds and describes the problem.
    """
    nrows = body.count("\n") + 1
    if body.count(",") != nrows * (ncols - 1):
        return None
    if ",," in body or ",\n" in body or "\n," in body or body[0] == "," or body[-1] == ",":
        # Empty cells: write them as NaN so numpy can parse them. Two passes
        # of ",," because the first cannot see an overlapping ",,,".
        body = body.replace(",,", ",nan,").replace(",,", ",nan,")
        body = body.replace(",\n", ",nan\n").replace("\n,", "\nnan,")
        if body[0] == ",":
            body = "nan" + body
        if body[-1] == ",":
            body = body + "nan"
    extra_columns = len(index) != ncols or index != list(range(ncols))
    try:
        if extra_columns:
            # usecols skips unknown columns (which may hold text) but also
            # skips numpy's cells-per-row check, so check that ourselves.
            if any(line.count(",") != ncols - 1 for line in body.split("\n")):
                return None
            data = np.loadtxt(
                io.StringIO(body), delimiter=",", comments=None, ndmin=2,
                usecols=index, dtype=np.float64,
            )
        else:
            data = np.loadtxt(
                io.StringIO(body), delimiter=",", comments=None, ndmin=2, dtype=np.float64
            )
    except ValueError:
        return None
    # numpy silently skips blank lines, so the row count must match ours.
    if data.shape != (nrows, len(index)):
        return None
    t = data[:, 0]
    if not np.isfinite(t).all() or not (np.diff(t) > 0).all():
        return None
    if data.shape[1] > 7 and np.isinf(data[:, 7:]).any():
        return None
    return data


def _parse_body_careful(
    name: str, body: str, first_line: int, columns: list[str], wanted: list[str], index: list[int]
) -> np.ndarray:
    """Parse the data rows one by one; raise `TraceError` at the first bad line."""
    ncols = len(columns)
    header = ",".join(columns)
    rows = body.split("\n")
    out = np.empty((len(rows), len(wanted)), dtype=np.float64)
    imu_index = index[1:7]
    optional = list(zip(wanted[7:], index[7:]))
    prev_t = -math.inf
    for i, line in enumerate(rows):
        lineno = first_line + i
        cells = line.split(",")
        if len(cells) != ncols:
            if not line.strip():
                raise TraceError(
                    name,
                    lineno,
                    "blank line among the data rows; delete it (blank lines are allowed "
                    "only at the end of the file)",
                )
            raise TraceError(
                name,
                lineno,
                f"row has {len(cells)} cells, header has {ncols} columns ({header})",
            )
        row = out[i]

        cell = cells[index[0]].strip()
        t = _number(cell)
        if t is None or not math.isfinite(t):
            what = "empty" if not cell else f"{cell[:30]!r}, not a finite number"
            raise TraceError(
                name,
                lineno,
                f"t is {what}; every row needs its sample time in seconds, "
                "or the sample cannot be placed",
            )
        if t <= prev_t:
            raise TraceError(
                name,
                lineno,
                f"t = {t!r} is not after the previous row's t = {prev_t!r}; "
                "t must be strictly increasing (rows out of order or duplicated?)",
            )
        prev_t = t
        row[0] = t

        ok = True
        for j, col in enumerate(imu_index, start=1):
            value = _number(cells[col].strip())
            if value is None or not math.isfinite(value):
                ok = False
                break
            row[j] = value
        if not ok:
            row[1:7] = np.nan  # a failed read

        for j, (col_name, col) in enumerate(optional, start=7):
            cell = cells[col].strip()
            if not cell:
                row[j] = np.nan  # no new reading
                continue
            value = _number(cell)
            if value is None or math.isinf(value):
                raise TraceError(
                    name,
                    lineno,
                    f"{col_name} is {cell[:30]!r}, not a finite number; leave the cell "
                    "empty when there is no new reading",
                )
            row[j] = value
    return out


def _number(cell: str) -> float | None:
    """The cell's value, or None if it is empty or not a number (as numpy reads them)."""
    if not cell or "_" in cell:  # float() allows 1_000, numpy does not
        return None
    try:
        return float(cell)
    except ValueError:
        return None


# --------------------------------------------------------------------------- metadata


def _meta_problem(key: str, value: Any) -> str | None:
    """What is wrong with one metadata value, or None. Unknown keys are never wrong."""
    if key == "imu_mount":
        return _imu_mount_problem(value)
    if key == "walking":
        if value not in WALKING_VALUES:
            return f'walking must be "forward" or "backward", found {json.dumps(value)[:40]}'
    elif key == "rear_edge_m":
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            return (
                "rear_edge_m must be a positive number of metres (range sensor to the rear "
                f"edge of the belt), found {json.dumps(value)[:40]}"
            )
    # "label" is ground truth for evaluation: kept, never checked, never read.
    return None


def _imu_mount_problem(value: Any) -> str | None:
    example = "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]"
    if not (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(r, list) and len(r) == 3 for r in value)
        and all(_is_number(x) and math.isfinite(x) for r in value for x in r)
    ):
        return (
            f"imu_mount must be a 3x3 list of numbers (rows of R, v_treadmill = R . v_sensor), "
            f"e.g. {example}; found {json.dumps(value)[:60]}"
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- writing


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
        problem = _meta_problem(key, value)
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
