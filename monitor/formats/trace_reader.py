"""Reading trace files (treadmill-trace v1) into a `Trace` of numpy arrays in SI units.

Every problem with a file, from a missing file to one bad cell, is a
`TraceError` that names the file and, where there is one, the 1-based line.
The format itself (columns, metadata keys, the choices where it leaves room)
is declared in `monitor.formats.trace_format`.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import zlib
from typing import Any

import numpy as np

from monitor.formats.trace_format import (
    EXAMPLE_HEADER,
    MAGIC,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    Trace,
    TraceError,
    meta_problem,
)

_GZIP_MAGIC = b"\x1f\x8b"


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
                f"column names such as {EXAMPLE_HEADER} (was the recording cut short?)",
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
        problem = meta_problem(key, value)
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
            f"expected the header row (column names such as {EXAMPLE_HEADER}), "
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
            f"{EXAMPLE_HEADER} (in any order)",
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
