"""Fuzzing trace files: whatever a file holds, replay gives a result or one clear TraceError.

Hypothesis damages a small valid trace (cells, lines, metadata, bytes, the time
base, gzip: truncated, or a small bomb of one long line) and replays it. Each
case must end within its time bound, stay within a memory bound (the reader
streams), and give a result or a one-line TraceError naming the file; the
whole-file reader must agree with the streaming replay on whether the file is
good. Derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.config.schema import Config
from monitor.formats.trace_format import TraceError
from monitor.formats.trace_reader import read_trace
from monitor.service.sessions.replay import ReplayResult, replay_file
from tests.test_fuzz_config import CASE_BOUND_S, time_bound

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=5), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
MEMORY_BOUND = 24 << 20  # bytes traced by tracemalloc while one case runs


def _base_lines() -> list[str]:
    rng = np.random.default_rng(3)
    lines = ["# treadmill-trace v1", '# walking: "forward"', "# rear_edge_m: 1.6",
             "# imu_mount: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]", '# label: {"event": "none"}',
             "t,ax,ay,az,gx,gy,gz,belt_mps,range_m"]
    for i in range(100):
        a = rng.normal(0, 0.05, 3) + [0, 0, 9.81]
        g = rng.normal(0, 0.01, 3)
        belt = "1.0" if i % 20 == 0 else ""
        rng_m = "0.8" if i % 10 == 0 else ""
        lines.append(f"{0.005 * i:.3f}," + ",".join(f"{x:.4f}" for x in (*a, *g)) + f",{belt},{rng_m}")
    return lines


BASE = _base_lines()
FIRST_ROW = 6
CELLS = ["", "nan", "NaN", "inf", "-inf", "1e298", "-1e298", "4294967297", "9" * 400, "abc", "\u00e9",
         "1_0", " 1 ", "0x10", "1e-320", "-0", "0.0050", "  ", "\x00", "1,2"]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10 ** 20), 10 ** 20), st.floats(allow_nan=False),
              st.text(max_size=10), st.sampled_from([1e300, 0, -1, 10.0, 10.001])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=10)


@st.composite
def damaged_lines(draw) -> list[str]:
    lines = list(BASE)
    for _ in range(draw(st.integers(0, 3))):
        n = len(lines)
        if n == 0:
            break
        kind = draw(st.sampled_from(["cell", "cell", "drop", "double", "swap", "blank", "text", "meta",
                                     "times", "cut"]))
        i = draw(st.integers(0, n - 1))
        if kind == "cell" and i >= FIRST_ROW:
            cells = lines[i].split(",")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(CELLS))
            lines[i] = ",".join(cells)
        elif kind == "drop" and n > 1:
            del lines[i]
        elif kind == "double":
            lines.insert(i, lines[i])
        elif kind == "swap" and i + 1 < n:
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif kind == "blank":
            lines.insert(i, draw(st.sampled_from(["", "  ", "\r"])))
        elif kind == "text":
            lines.insert(i, draw(st.text(max_size=60)))
        elif kind == "meta":
            key = draw(st.sampled_from(["imu_mount", "walking", "rear_edge_m", "label", "source", "x y", ""]))
            value = draw(st.one_of(json_values.map(json.dumps), st.text(max_size=20)))
            lines.insert(draw(st.integers(1, FIRST_ROW - 1)), f"# {key}: {value}")
        elif kind == "times":
            offset = draw(st.sampled_from([0.0, 1.7e9, 2.0 ** 32, -(2.0 ** 32), 4.3e9, 1e15, 1e298, -1e300]))
            scale = draw(st.sampled_from([1.0, 1e-9, 1e-6, 1e3, 1e7, -1.0]))
            for j in range(FIRST_ROW, len(lines)):
                cells = lines[j].split(",")
                try:
                    cells[0] = repr(offset + scale * float(cells[0]))
                except ValueError:
                    continue
                lines[j] = ",".join(cells)
        elif kind == "cut":
            del lines[i:]
    return lines


@st.composite
def damaged_files(draw) -> bytes:
    data = ("\r\n" if draw(st.booleans()) else "\n").join(draw(damaged_lines())).encode("utf-8", "surrogatepass")
    if data and draw(st.integers(0, 6)) == 0:  # a few bytes changed
        raw = bytearray(data)
        for _ in range(draw(st.integers(1, 5))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        data = bytes(raw)
    packing = draw(st.sampled_from(["plain", "plain", "plain", "gzip", "gzip", "gzip-cut", "bomb-line", "bomb-rows"]))
    if packing == "gzip":
        return gzip.compress(data, 1)
    if packing == "gzip-cut":
        packed = gzip.compress(data, 1)
        return packed[:draw(st.integers(0, len(packed) - 1))]  # a gzip is never empty
    if packing == "bomb-line":  # 1 to 16 MiB of one line, ~1 000 times smaller packed
        size = draw(st.integers(1, 16)) << 20
        return gzip.compress(data + b"9" * size, 9)
    if packing == "bomb-rows":  # the same row again and again: t stops increasing at once
        return gzip.compress(data + b"\n" + (BASE[-1].encode() + b"\n") * 200_000, 9)
    return data


@FUZZ
@given(data=damaged_files())
def test_any_damaged_trace_replays_or_gives_one_clear_error_in_bounded_time_and_memory(tmp_path, data):
    path = tmp_path / "fuzz.csv.gz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with time_bound(CASE_BOUND_S):
            try:
                result = replay_file(path, Config())
            except TraceError as err:
                result = err
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.1f} MiB"
    if isinstance(result, TraceError):
        event("refused")
        text = str(result)
        assert text.startswith(f"{path}") and "\n" not in text and "\r" not in text and len(text) < 600, text
    else:
        event("replayed")
        assert isinstance(result, ReplayResult) and result.samples >= 1
    # the whole-file reader, on the same file, agrees (one implementation of the rules)
    with time_bound(CASE_BOUND_S):
        try:
            whole = read_trace(path)
        except TraceError as err:
            assert isinstance(result, TraceError) and str(err) == str(result)
        else:
            assert isinstance(result, ReplayResult) and whole.samples == result.samples
