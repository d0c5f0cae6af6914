"""Reading trace files (treadmill-trace v1): as a stream of row chunks, or whole into a `Trace`.

Every problem with a file, from a missing file to one bad cell, is a
`TraceError` that names the file and, where there is one, the 1-based line.
The format itself (columns, metadata keys, limits, the choices where it leaves
room) is declared in `monitor.formats.trace_format`.

`TraceStream` is the one implementation of the format's rules: it reads the
preamble at open, then decodes the file (gunzipping incrementally) in blocks
of whole lines and parses each block with numpy, so memory stays flat however
long the file is and a line past `MAX_LINE_BYTES` fails at once, whatever it
would inflate to. `read_trace` collects the stream into one `Trace` for the
tools that want the whole file in memory.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import zlib
from typing import Any, BinaryIO, Iterator

import numpy as np

from monitor.formats import trace_format as fmt
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
_BOM = b"\xef\xbb\xbf"
MAX_META_NESTING = 32  # lists and objects inside each other; a real value (imu_mount) nests 2
BLOCK_BYTES = 256 * 1024  # decoded bytes read at a time: ~3,500 rows of a 200 Hz trace


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a v1 trace (`.csv`, or gzip whatever its name) into a `Trace`.

    Raises `TraceError` for every problem, naming the file and the line.
    """
    with TraceStream(path) as stream:
        chunks = list(stream.chunks())
    data = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    optional = {c: np.ascontiguousarray(data[:, i]) for i, c in enumerate(stream.wanted) if i >= 7}
    return Trace(
        path=stream.path,
        meta=stream.meta,
        t_s=np.ascontiguousarray(data[:, 0]),
        accel_mps2=np.ascontiguousarray(data[:, 1:4]),
        gyro_radps=np.ascontiguousarray(data[:, 4:7]),
        imu_ok=np.isfinite(data[:, 1]),
        belt_mps=optional.get("belt_mps"),
        range_m=optional.get("range_m"),
    )


class TraceStream:
    """One trace file, read as a stream: the preamble (metadata, columns) at open,
    the rows by `chunks()`.

    Each chunk is a float array with one row per sample and the columns of
    `wanted` (t, ax..gz, then the optional columns the file has); a failed read
    has all six IMU values NaN, an optional cell with no new reading is NaN.
    After `chunks()` is exhausted, `samples`, `first_t_s` and `last_t_s` hold
    the file's totals. Use as a context manager, or call `close()`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.meta: dict[str, Any] = {}
        self.samples = 0
        self.first_t_s = math.nan
        self.last_t_s = math.nan
        self._file = _open(self.path)
        try:
            self._blocks = self._line_blocks()
            self._read_preamble()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "TraceStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def duration_s(self) -> float:
        """Last sample time minus first (once the rows are read), 0.0 for one sample."""
        return float(self.last_t_s - self.first_t_s)

    # -- the bytes, in blocks of whole lines ----------------------------------------------
    def _line_blocks(self) -> Iterator[tuple[int, str]]:
        """(number of the block's first line, its text), whole lines only; the last block may
        lack its final newline. A line longer than MAX_LINE_BYTES is an error at once."""
        name = self.path
        head = _read_block(name, self._file, 2)
        raw: Any = _Prefixed(head, self._file)
        if head == _GZIP_MAGIC:
            raw = gzip.GzipFile(fileobj=raw, mode="rb")
        limit = fmt.MAX_LINE_BYTES
        lineno = 1
        pending = _read_block(name, raw).removeprefix(_BOM)
        while True:
            block = _read_block(name, raw)
            block, is_end = pending + block, not block
            cut = len(block) if is_end else block.rfind(b"\n") + 1  # at the end: the last line too
            whole, pending = block[:cut], block[cut:]
            if whole:
                lines = whole.split(b"\n")
                if max(map(len, lines)) > limit + 1:  # +1: a DOS line's \r
                    at = next(i for i, line in enumerate(lines) if len(line) > limit + 1)
                    raise TraceError(name, lineno + at, _long_line(limit))
                yield lineno, _decode(name, lineno, whole)
                lineno += len(lines) - 1
            if is_end:
                return
            if len(pending) > limit:
                raise TraceError(name, lineno, _long_line(limit))

    # -- magic line, metadata, header -----------------------------------------------------
    def _read_preamble(self) -> None:
        name = self.path
        lines = self._preamble_lines()
        lineno, first = next(lines, (1, None))
        if first is None:
            first = ""
        if first != MAGIC:
            raise TraceError(name, 1, _magic_problem(first))
        meta_lines: dict[str, int] = {}
        while True:
            lineno, line = next(lines, (lineno, None))
            if line is None:
                raise TraceError(
                    name,
                    None,
                    f"the file ends after line {lineno}, before the header row; expected a row of "
                    f"column names such as {EXAMPLE_HEADER} (was the recording cut short?)",
                )
            if not line.startswith("#"):
                break
            key, value = _parse_meta_line(name, lineno, line)
            if key in self.meta:
                raise TraceError(
                    name,
                    lineno,
                    f"metadata key {key!r} is given twice (first on line {meta_lines[key]}); "
                    "keep one",
                )
            problem = meta_problem(key, value)
            if problem:
                raise TraceError(name, lineno, problem)
            self.meta[key] = value
            meta_lines[key] = lineno
        # Note: meta keeps "label" (ground truth) as it is; nothing here reads it,
        # and the monitor must never read it.
        self.header_line = lineno
        self.columns = _parse_header(name, lineno, line)
        if "range_m" in self.columns and "rear_edge_m" not in self.meta:
            raise TraceError(
                name,
                lineno,
                "the range_m column needs the rear_edge_m metadata key (distance in metres "
                'from the range sensor to the rear edge of the belt), e.g. "# rear_edge_m: 1.2"',
            )
        self.wanted = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in self.columns]
        self._index = [self.columns.index(c) for c in self.wanted]

    def _preamble_lines(self) -> Iterator[tuple[int, str | None]]:
        """The first lines one by one. Before each is handed out, what follows it in its
        block is kept (`_rest`), so the rows start right after whichever line is the header."""
        self._rest: tuple[int, str] | None = None
        for lineno, text in self._blocks:
            pos = 0
            while pos < len(text):
                end = text.find("\n", pos)
                end = len(text) if end < 0 else end
                line = text[pos:end].rstrip("\r")
                pos = end + 1
                self._rest = (lineno + 1, text[pos:])
                yield lineno, line
                lineno += 1

    # -- the rows --------------------------------------------------------------------------
    def chunks(self) -> Iterator[np.ndarray]:
        """The rows, block by block, checked; raises TraceError at the first bad line."""
        name = self.path
        ncols = len(self.columns)
        prev_t = -math.inf
        blank_at: int | None = None  # first blank line not yet known to be at the end
        blocks: Iterator[tuple[int, str]] = self._blocks
        if self._rest is not None and self._rest[1]:
            blocks = _chained(self._rest, blocks)
        for start, body in blocks:
            if "\r" in body:
                body = body.replace("\r\n", "\n")
            core = body.rstrip()
            if not core:
                if blank_at is None and body:
                    blank_at = start
                continue
            if blank_at is not None:
                raise TraceError(name, blank_at, _BLANK_LINE)
            tail = body[len(core):].split("\n")
            blank_lines = tail[1:-1] if body.endswith("\n") else tail[1:]
            if blank_lines:
                blank_at = start + core.count("\n") + 1
            data = _parse_body_fast(core, ncols, self._index, prev_t)
            if data is None:
                data = _parse_body_careful(name, core, start, self.columns, self.wanted, self._index, prev_t)
            if self.samples + len(data) > fmt.MAX_ROWS:
                raise TraceError(
                    name, start + fmt.MAX_ROWS - self.samples,
                    f"more than {fmt.MAX_ROWS:,} rows, the most one trace may hold; split the "
                    "recording into shorter traces",
                )
            imu_ok = np.isfinite(data[:, 1:7]).all(axis=1)
            if not imu_ok.all():
                data[~imu_ok, 1:7] = np.nan
            if self.samples == 0:
                self.first_t_s = float(data[0, 0])
            self.samples += len(data)
            prev_t = self.last_t_s = float(data[-1, 0])
            yield data
        if self.samples == 0:
            raise TraceError(
                name, self.header_line,
                "the header row is followed by no samples; a trace needs at least one row "
                "(was the recording stopped at once, or cut short?)",
            )


_BLANK_LINE = ("blank line among the data rows; delete it (blank lines are allowed "
               "only at the end of the file)")


def _long_line(limit: int) -> str:
    return (f"line longer than {limit} bytes (a trace row is under 200); this is not a trace, "
            "or the file is damaged")


def _chained(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


class _Prefixed:
    """A binary file with the bytes already read from its start put back in front
    (so a pipe works as well as a file: nothing seeks)."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        head, self._head = self._head, b""
        if 0 <= size <= len(head):
            self._head = head[size:]
            return head[:size]
        return head + self._raw.read(size - len(head) if size >= 0 else -1)


def _open(name: str) -> BinaryIO:
    try:
        return open(name, "rb")
    except FileNotFoundError:
        raise TraceError(name, None, "no such file; check the path") from None
    except IsADirectoryError:
        raise TraceError(name, None, "this is a folder, not a trace file") from None
    except OSError as e:
        raise TraceError(name, None, f"cannot read the file: {e.strerror or e}") from None


def _read_block(name: str, raw: Any, size: int | None = None) -> bytes:
    """Up to `size` (BLOCK_BYTES) decoded bytes; gzip and file problems as TraceError."""
    try:
        return raw.read(BLOCK_BYTES if size is None else size)
    except EOFError:
        raise TraceError(
            name,
            None,
            "the gzip data is truncated (the file ends before the compressed stream "
            "does); the recording was probably cut short or copied incompletely",
        ) from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise TraceError(name, None, f"the gzip data is damaged ({e}); copy the file again") from None
    except IsADirectoryError:
        raise TraceError(name, None, "this is a folder, not a trace file") from None
    except OSError as e:
        raise TraceError(name, None, f"cannot read the file: {e.strerror or e}") from None


def _decode(name: str, lineno: int, block: bytes) -> str:
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(
            name,
            lineno + block.count(b"\n", 0, e.start),
            f"not UTF-8 text (byte 0x{block[e.start]:02x} cannot be decoded); "
            "is this really a trace file?",
        ) from None


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
    too_deep = TraceError(name, lineno, f"metadata {key[:40]!r} nests lists or objects too deeply; "
                                        "no metadata value is nested more than a few levels")
    if raw_value.count("[") + raw_value.count("{") > MAX_META_NESTING and _nesting_depth(raw_value) > MAX_META_NESTING:
        raise too_deep  # checked here: Python 3.13's json parses thousands of levels without a RecursionError
    try:
        value = json.loads(raw_value, parse_constant=_reject_constant)
    except RecursionError:
        raise too_deep from None
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        raise TraceError(
            name,
            lineno,
            f"metadata {key!r} is not valid JSON ({reason}); the value must be JSON, "
            'e.g. strings in double quotes: # walking: "forward"',
        ) from None
    return key, value


def _nesting_depth(text: str) -> int:
    """How deep JSON text nests lists and objects (brackets inside strings do not count)."""
    depth = deepest = 0
    is_in_string = is_escaped = False
    for ch in text:
        if is_in_string:
            if is_escaped:
                is_escaped = False
            elif ch == "\\":
                is_escaped = True
            elif ch == '"':
                is_in_string = False
        elif ch == '"':
            is_in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


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


def _parse_body_fast(body: str, ncols: int, index: list[int], prev_t: float = -math.inf) -> np.ndarray | None:
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
    if (not np.isfinite(t).all() or not (np.diff(t) > 0).all() or not t[0] > prev_t
            or not (np.abs(t) <= fmt.MAX_ABS_TIME_S).all()):
        return None
    if data.shape[1] > 7 and np.isinf(data[:, 7:]).any():
        return None
    return data


def _parse_body_careful(
    name: str, body: str, first_line: int, columns: list[str], wanted: list[str], index: list[int],
    prev_t: float = -math.inf,
) -> np.ndarray:
    """Parse the data rows one by one; raise `TraceError` at the first bad line."""
    ncols = len(columns)
    header = ",".join(columns)
    rows = body.split("\n")
    out = np.empty((len(rows), len(wanted)), dtype=np.float64)
    imu_index = index[1:7]
    optional = list(zip(wanted[7:], index[7:]))
    for i, line in enumerate(rows):
        lineno = first_line + i
        cells = line.split(",")
        if len(cells) != ncols:
            if not line.strip():
                raise TraceError(name, lineno, _BLANK_LINE)
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
        if abs(t) > fmt.MAX_ABS_TIME_S:
            raise TraceError(
                name,
                lineno,
                f"t = {t!r} s is too far from 0: times must be within ±{fmt.MAX_ABS_TIME_S:.4g} s "
                "(136 years; a Unix time stamp fits), or the samples and the loop's ticks "
                "cannot be told apart; shift the times",
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
