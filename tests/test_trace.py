"""Behaviour of monitor.trace: reading and writing treadmill-trace v1 files."""

from __future__ import annotations

import gzip
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.formats import trace_reader as trace_module
from monitor.formats.trace_format import Trace, TraceError
from monitor.formats.trace_reader import read_trace
from monitor.formats.trace_writer import write_trace

SISFALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "sisfall-dev"
HEADER = "t,ax,ay,az,gx,gy,gz"
ROW = "{t},0.1,0.2,9.81,0.01,0.02,0.03"


def _write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _simple(rows: int = 3, meta: str = "", header: str = HEADER) -> str:
    lines = ["# treadmill-trace v1"]
    if meta:
        lines.append(meta)
    lines.append(header)
    lines += [ROW.format(t=f"{0.005 * i:.3f}") for i in range(rows)]
    return "\n".join(lines) + "\n"


def _error(path: Path) -> TraceError:
    with pytest.raises(TraceError) as info:
        read_trace(path)
    return info.value


def _sample_trace(n: int = 50, optional: bool = True) -> Trace:
    rng = np.random.default_rng(7)
    t = 12.5 + np.cumsum(rng.uniform(0.004, 0.006, n))
    accel = rng.normal(0.0, 3.0, (n, 3))
    gyro = rng.normal(0.0, 1.0, (n, 3))
    imu_ok = np.ones(n, dtype=bool)
    imu_ok[[3, 17]] = False
    accel[~imu_ok] = np.nan
    gyro[~imu_ok] = np.nan
    meta = {
        "source": "bench simulator, ünïcode ok",
        "imu_mount": [[0, 0, 1], [-1, 0, 0], [0, -1, 0]],
        "walking": "backward",
        "label": {"event": "fall", "impact_s": 7.42},
        "future_key": [1, 2, {"x": None}],
    }
    belt = range_ = None
    if optional:
        belt = np.full(n, np.nan)
        belt[::10] = rng.uniform(0.5, 2.0, len(belt[::10]))
        range_ = np.full(n, np.nan)
        range_[::4] = rng.uniform(0.3, 1.2, len(range_[::4]))
        meta["rear_edge_m"] = 1.35
    return Trace("<memory>", meta, t, accel, gyro, imu_ok, belt, range_)


def _assert_same(a: Trace, b: Trace) -> None:
    assert a.meta == b.meta
    np.testing.assert_array_equal(a.t_s, b.t_s)
    np.testing.assert_array_equal(a.accel_mps2, b.accel_mps2)
    np.testing.assert_array_equal(a.gyro_radps, b.gyro_radps)
    np.testing.assert_array_equal(a.imu_ok, b.imu_ok)
    for name in ("belt_mps", "range_m"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not SISFALL.is_dir(), reason="shared/data/sisfall-dev not beside the repo")
def test_real_sisfall_file_reads_with_its_sample_count_and_metadata():
    path = SISFALL / "sisfall-D01-SA01-R01.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    data_rows = [ln for ln in lines if ln and not ln.startswith("#")][1:]
    first = [float(x) for x in data_rows[0].split(",")]
    last = [float(x) for x in data_rows[-1].split(",")]

    tr = read_trace(path)

    assert tr.samples == len(data_rows) > 1000
    assert tr.path == str(path)
    assert tr.t_s.dtype == np.float64 and tr.accel_mps2.shape == (tr.samples, 3)
    assert tr.duration_s == pytest.approx(last[0] - first[0])
    np.testing.assert_array_equal(tr.accel_mps2[0], first[1:4])
    np.testing.assert_array_equal(tr.gyro_radps[-1], last[4:7])
    assert tr.imu_ok.all()
    assert tr.belt_mps is None and tr.range_m is None
    assert tr.walking == "forward"
    np.testing.assert_array_equal(tr.imu_mount, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    assert tr.rear_edge_m is None
    assert tr.meta["source"].startswith("SisFall")
    assert tr.meta["label"]["event"] == "none"  # kept for scoring, never read by the monitor


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz"])
def test_write_then_read_gives_back_the_same_trace(tmp_path, name):
    original = _sample_trace()
    path = tmp_path / name
    write_trace(path, original)

    back = read_trace(path)

    _assert_same(original, back)
    assert back.path == str(path)
    assert back.walking == "backward" and back.rear_edge_m == 1.35
    assert path.read_bytes().startswith(b"\x1f\x8b") == name.endswith(".gz")


def test_written_file_uses_empty_cells_for_failed_reads_and_missing_readings(tmp_path):
    path = tmp_path / "out.csv"
    write_trace(path, _sample_trace())
    lines = path.read_text(encoding="utf-8").splitlines()
    header_at = lines.index("t,ax,ay,az,gx,gy,gz,belt_mps,range_m")
    rows = lines[header_at + 1 :]
    assert lines[0] == "# treadmill-trace v1"
    assert rows[3].split(",")[1:7] == [""] * 6  # failed read
    assert rows[1].split(",")[7:] == ["", ""]  # no new belt or range reading


def test_trace_without_optional_columns_round_trips_without_them(tmp_path):
    original = _sample_trace(optional=False)
    write_trace(tmp_path / "out.csv.gz", original)
    back = read_trace(tmp_path / "out.csv.gz")
    _assert_same(original, back)
    assert back.belt_mps is None and back.range_m is None


def test_a_written_trace_without_samples_reads_back_as_an_error_not_as_nothing_happened(tmp_path):
    no_xyz = np.empty((0, 3))
    empty = Trace("<memory>", {}, np.empty(0), no_xyz, no_xyz, np.empty(0, bool))
    write_trace(tmp_path / "empty.csv", empty)
    err = _error(tmp_path / "empty.csv")
    assert err.line == 2 and "no samples" in err.message


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.floats(min_value=1e-9, max_value=10.0), min_size=1, max_size=20),
    start=finite,
    values=st.lists(finite, min_size=6, max_size=6),
)
def test_any_finite_values_round_trip_exactly(tmp_path_factory, steps, start, values):
    t = start + np.cumsum(steps)
    if not (np.diff(t) > 0).all():
        return  # float addition swallowed a tiny step: not a valid trace
    n = len(t)
    imu = np.tile(np.array(values), (n, 1))
    original = Trace("<memory>", {}, t, imu[:, :3], imu[:, 3:], np.ones(n, bool))
    path = tmp_path_factory.mktemp("rt") / "t.csv"
    write_trace(path, original)
    _assert_same(original, read_trace(path))


# --------------------------------------------------------------------------- tolerated variations


def test_dos_line_endings_read_like_unix_ones(tmp_path):
    text = _simple(rows=4, meta='# walking: "backward"')
    unix = read_trace(_write(tmp_path, text, "unix.csv"))
    dos = read_trace(_write(tmp_path, text.replace("\n", "\r\n"), "dos.csv"))
    _assert_same(unix, dos)
    assert dos.walking == "backward"


def test_dos_line_endings_keep_error_line_numbers(tmp_path):
    text = _simple(rows=4).replace("0.010,", "0.000,").replace("\n", "\r\n")
    assert _error(_write(tmp_path, text)).line == 5


def test_utf8_bom_is_tolerated(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _simple().encode())
    assert read_trace(path).samples == 3


def test_gzip_is_detected_by_content_not_by_name(tmp_path):
    gz_named_csv = tmp_path / "really-gzip.csv"
    gz_named_csv.write_bytes(gzip.compress(_simple().encode()))
    plain_named_gz = tmp_path / "really-plain.csv.gz"
    plain_named_gz.write_bytes(_simple().encode())
    assert read_trace(gz_named_csv).samples == 3
    assert read_trace(plain_named_gz).samples == 3


def test_columns_in_another_order_and_unknown_columns_are_ignored(tmp_path):
    text = (
        "# treadmill-trace v1\n"
        "# rear_edge_m: 1.2\n"
        "note,gz,range_m,t,gy,temp_c,gx,az,ay,ax\n"
        "hello,6,0.9,0.0,5,21.5,4,3,2,1\n"
        "x y,16,,0.01,15,21.6,14,13,12,11\n"
    )
    tr = read_trace(_write(tmp_path, text))
    np.testing.assert_array_equal(tr.t_s, [0.0, 0.01])
    np.testing.assert_array_equal(tr.accel_mps2, [[1, 2, 3], [11, 12, 13]])
    np.testing.assert_array_equal(tr.gyro_radps, [[4, 5, 6], [14, 15, 16]])
    np.testing.assert_array_equal(tr.range_m, [0.9, np.nan])
    assert tr.belt_mps is None
    assert tr.imu_ok.all()


def test_unknown_metadata_keys_are_kept_and_do_not_matter(tmp_path):
    text = _simple(meta='# operator: {"name": "Ana", "shoes": ["red"]}')
    tr = read_trace(_write(tmp_path, text))
    assert tr.meta == {"operator": {"name": "Ana", "shoes": ["red"]}}
    assert tr.imu_mount is None and tr.walking == "forward" and tr.rear_edge_m is None


def test_blank_lines_at_the_end_are_fine(tmp_path):
    assert read_trace(_write(tmp_path, _simple() + "\n\r\n  \n")).samples == 3


@pytest.mark.parametrize("tail", ["", "\n", "\n\n  \n"])
def test_a_header_without_rows_is_an_error_saying_there_are_no_samples(tmp_path, tail):
    err = _error(_write(tmp_path, "# treadmill-trace v1\n# walking: \"forward\"\n" + HEADER + tail))
    assert err.line == 3 and "no samples" in err.message


def test_single_sample_has_zero_duration(tmp_path):
    tr = read_trace(_write(tmp_path, _simple(rows=1)))
    assert tr.samples == 1 and tr.duration_s == 0.0


# --------------------------------------------------------------------------- failed reads


@pytest.mark.parametrize("bad_cell", ["", "  ", "ERR", "nan", "inf", "1_0"])
def test_bad_required_cell_makes_that_sample_a_failed_read(tmp_path, bad_cell):
    text = _simple(rows=4).replace("0.010,0.1,0.2,9.81", f"0.010,0.1,{bad_cell},9.81")
    tr = read_trace(_write(tmp_path, text))
    np.testing.assert_array_equal(tr.imu_ok, [True, True, False, True])
    assert np.isnan(tr.accel_mps2[2]).all() and np.isnan(tr.gyro_radps[2]).all()
    np.testing.assert_array_equal(tr.accel_mps2[[0, 1, 3]], [[0.1, 0.2, 9.81]] * 3)
    np.testing.assert_array_equal(tr.t_s, [0.0, 0.005, 0.01, 0.015])


def test_empty_cells_in_optional_columns_mean_no_new_reading(tmp_path):
    text = (
        "# treadmill-trace v1\n# rear_edge_m: 1.5\n"
        f"{HEADER},belt_mps,range_m\n"
        "0.0,1,2,3,4,5,6,1.25,\n"
        "0.1,1,2,3,4,5,6,,0.8\n"
        "0.2,,2,3,4,5,6,,\n"
    )
    tr = read_trace(_write(tmp_path, text))
    np.testing.assert_array_equal(tr.belt_mps, [1.25, np.nan, np.nan])
    np.testing.assert_array_equal(tr.range_m, [np.nan, 0.8, np.nan])
    np.testing.assert_array_equal(tr.imu_ok, [True, True, False])


# --------------------------------------------------------------------------- errors


def test_error_reads_as_path_line_message_on_one_line(tmp_path):
    text = _simple(rows=5).replace("0.015,0.1", "0.015,7,0.1")
    path = _write(tmp_path, text, "trace.csv.gz")
    err = _error(path)
    assert (err.path, err.line) == (str(path), 6)
    assert err.message == "row has 8 cells, header has 7 columns (t,ax,ay,az,gx,gy,gz)"
    assert str(err) == f"{path}:6: {err.message}"
    assert "\n" not in str(err)


def test_error_survives_pickling_for_parallel_replay(tmp_path):
    err = _error(_write(tmp_path, "nope\n"))
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.line, again.message, str(again)) == (
        err.path, err.line, err.message, str(err)
    )


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("", 1, "found an empty line"),
        ("t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n", 1, "'t,ax,ay,az,gx,gy,gz'"),
        ("# treadmill-trace v2\n" + HEADER + "\n", 1, "only '# treadmill-trace v1'"),
        ("# treadmill-trace v1 \n" + HEADER + "\n", 1, "remove the extra spaces"),
        ("\x00\x01binary\n", 1, "is this a trace file?"),
        ('# treadmill-trace v1\n# source: "x"\n# walking: forward\n' + HEADER, 3, "'walking' is not valid JSON"),
        ("# treadmill-trace v1\n# no colon here\n" + HEADER, 2, "'# key: value'"),
        ("# treadmill-trace v1\n# rear_edge_m: NaN\n" + HEADER, 2, "'rear_edge_m' is not valid JSON"),
        ('# treadmill-trace v1\n# source: "a"\n# source: "b"\n' + HEADER, 3, "given twice (first on line 2)"),
        ("# treadmill-trace v1\n\n" + HEADER, 2, "found a blank line"),
        ("# treadmill-trace v1\nt,ax,ay,az,gx,gz\n", 2, "missing required column gy"),
        ("# treadmill-trace v1\nt,ax,ay,gy,gx,gy,gz,az\n", 2, "'gy' appears twice"),
    ],
)
def test_bad_preamble_is_an_error_naming_the_line(tmp_path, text, line, words):
    err = _error(_write(tmp_path, text))
    assert err.line == line
    assert words in err.message


def test_file_ending_before_the_header_is_an_error(tmp_path):
    err = _error(_write(tmp_path, '# treadmill-trace v1\n# walking: "forward"\n'))
    assert err.line is None and "before the header row" in err.message


@pytest.mark.parametrize(
    "meta, words",
    [
        ("# imu_mount: [[1, 0], [0, 1]]", "3x3 list of numbers"),
        ('# imu_mount: [[1, 0, 0], [0, 1, 0], [0, 0, "1"]]', "3x3 list of numbers"),
        ("# imu_mount: [[1, 0, 0], [0, 1, 0], [0, 0, true]]", "3x3 list of numbers"),
        ("# imu_mount: [[1, 0, 0], [0, 1, 0], [0, 0, 2]]", "not a rotation"),
        ("# imu_mount: [[1, 0, 0], [0, 1, 0], [0, 0.5, 1]]", "not a rotation"),
        ("# imu_mount: [[1, 0, 0], [0, 1, 0], [0, 0, -1]]", "determinant -1"),
        ('# walking: "sideways"', 'walking must be "forward" or "backward"'),
        ('# walking: "Forward"', 'walking must be "forward" or "backward"'),
        ("# rear_edge_m: -0.5", "rear_edge_m must be a number of metres above 0 and at most 10"),
        ("# rear_edge_m: 0", "rear_edge_m must be a number of metres above 0 and at most 10"),
        ('# rear_edge_m: "1.2"', "rear_edge_m must be a number of metres above 0 and at most 10"),
        ("# rear_edge_m: 1e300", "found 1e+300"),
        ("# rear_edge_m: 10.001", "found 10.001"),
        ("# rear_edge_m: " + "9" * 4000, "rear_edge_m must be a number of metres"),
        ("# imu_mount: [[" + "9" * 4000 + ", 0, 0], [0, 1, 0], [0, 0, 1]]", "3x3 list of numbers"),
        ("# label: " + "[" * 2000 + "]" * 2000, "nests lists or objects too deeply"),
    ],
)
def test_invalid_metadata_value_is_an_error_naming_its_line(tmp_path, meta, words):
    preamble = f'# treadmill-trace v1\n# source: "x"\n{meta}\n'
    text = _simple().replace("# treadmill-trace v1\n", preamble)
    err = _error(_write(tmp_path, text))
    assert err.line == 3
    assert words in err.message


def test_rotation_within_tolerance_is_accepted(tmp_path):
    c, s = math.cos(0.3), math.sin(0.3)
    mount = [[round(c, 4), -round(s, 4), 0], [round(s, 4), round(c, 4), 0], [0, 0, 1]]
    tr = read_trace(_write(tmp_path, _simple(meta=f"# imu_mount: {mount}")))
    np.testing.assert_array_equal(tr.imu_mount, mount)


def test_range_column_without_rear_edge_is_an_error_at_the_header(tmp_path):
    text = f"# treadmill-trace v1\n# walking: \"forward\"\n{HEADER},range_m\n0,1,2,3,4,5,6,0.5\n"
    err = _error(_write(tmp_path, text))
    assert err.line == 3 and "rear_edge_m" in err.message


@pytest.mark.parametrize(
    "old, new, line, words",
    [
        ("0.010,", "0.005,", 5, "not after the previous row's t = 0.005"),
        ("0.010,", "0.001,", 5, "t must be strictly increasing"),
        ("0.010,", ",", 5, "t is empty"),
        ("0.000,", ",", 3, "t is empty"),
        ("0.010,", "abc,", 5, "t is 'abc', not a finite number"),
        ("0.010,", "nan,", 5, "t is 'nan', not a finite number"),
        ("0.010,", "inf,", 5, "not a finite number"),
        ("0.015,0.1", "0.015,0.1,", 6, "row has 8 cells, header has 7 columns"),
        ("0.015,0.1,0.2,", "0.015,0.1,", 6, "row has 6 cells, header has 7 columns"),
        ("0.005,0.1,0.2,9.81,0.01,0.02,0.03\n", "\n", 4, "blank line among the data rows"),
        ("0.005,0.1,0.2,9.81,0.01,0.02,0.03\n", "  \n", 4, "blank line among the data rows"),
        ("0.005,", "#0.005,", 4, "t is '#0.005'"),
    ],
)
def test_bad_data_row_is_an_error_naming_its_line(tmp_path, old, new, line, words):
    text = _simple(rows=6)
    assert old in text
    err = _error(_write(tmp_path, text.replace(old, new, 1)))
    assert err.line == line
    assert words in err.message


def test_first_bad_row_in_file_order_is_the_one_reported(tmp_path):
    text = _simple(rows=8).replace("0.010,", "0.001,").replace("0.030,0.1", "0.030,0.1,9")
    assert _error(_write(tmp_path, text)).line == 5


@pytest.mark.parametrize(
    "header, add",
    [(HEADER, lambda r: r), (HEADER + ",note", lambda r: r + ",x"), ("note," + HEADER, lambda r: "x," + r)],
)
def test_rows_whose_cell_counts_cancel_out_are_still_caught(tmp_path, header, add):
    ncols = header.count(",") + 1
    rows = [add(ROW.format(t=f"{0.01 * i:.2f}")) for i in range(5)]
    rows[1] += ",9"  # one cell too many ...
    rows[3] = rows[3].rsplit(",", 1)[0]  # ... and one too few: the totals still match
    text = "# treadmill-trace v1\n" + header + "\n" + "\n".join(rows) + "\n"
    err = _error(_write(tmp_path, text))
    assert err.line == 4
    assert err.message.startswith(f"row has {ncols + 1} cells, header has {ncols} columns")


def test_a_failed_read_leaves_every_other_value_as_the_clean_file_has_it(tmp_path):
    # A text cell sends the reader down its row-by-row path; the result must
    # match the fast path's exactly, empty optional cells included.
    original = _sample_trace(n=30)
    write_trace(tmp_path / "clean.csv", original)
    text = (tmp_path / "clean.csv").read_text(encoding="utf-8")
    lines = text.split("\n")
    first_row = next(i for i, ln in enumerate(lines) if ln.startswith("t,")) + 1
    cells = lines[first_row + 9].split(",")
    cells[5] = "I2C-ERR"
    lines[first_row + 9] = ",".join(cells)
    broken = read_trace(_write(tmp_path, "\n".join(lines), "broken.csv"))

    assert broken.imu_ok.tolist() == [i not in (3, 9, 17) for i in range(30)]
    original.imu_ok[9] = False
    original.accel_mps2[9] = original.gyro_radps[9] = np.nan
    _assert_same(original, broken)


def test_error_line_is_right_deep_in_a_long_gzip_file(tmp_path):
    rows = [ROW.format(t=f"{0.005 * i:.3f}") for i in range(20000)]
    rows[15000] = rows[15000] + ",1"
    text = "# treadmill-trace v1\n# walking: \"forward\"\n" + HEADER + "\n" + "\n".join(rows) + "\n"
    path = tmp_path / "long.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert _error(path).line == 3 + 15000 + 1


@pytest.mark.parametrize("bad", ["fast", "n/a", "inf"])
def test_text_in_an_optional_column_is_an_error(tmp_path, bad):
    text = f"# treadmill-trace v1\n{HEADER},belt_mps\n0,1,2,3,4,5,6,1.0\n0.1,1,2,3,4,5,6,{bad}\n"
    err = _error(_write(tmp_path, text))
    assert err.line == 4 and "belt_mps" in err.message and "leave the cell empty" in err.message


def test_missing_file_is_a_trace_error(tmp_path):
    path = tmp_path / "nope.csv.gz"
    err = _error(path)
    assert err.line is None and "no such file" in err.message
    assert str(err) == f"{path}: no such file; check the path"


def test_folder_is_a_trace_error(tmp_path):
    assert "folder" in _error(tmp_path).message


def test_unreadable_file_is_a_trace_error(tmp_path, monkeypatch):
    path = _write(tmp_path, _simple())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(trace_module, "open", denied, raising=False)  # works as root too
    err = _error(path)
    assert err.line is None and "cannot read the file: Permission denied" in err.message


def test_truncated_gzip_is_a_trace_error(tmp_path):
    whole = gzip.compress(_simple(rows=500).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    err = _error(path)
    assert err.line is None and "truncated" in err.message


def test_damaged_gzip_is_a_trace_error(tmp_path):
    whole = bytearray(gzip.compress(_simple(rows=500).encode()))
    whole[-6] ^= 0xFF  # corrupt the CRC / length trailer
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(bytes(whole))
    assert "damaged" in _error(path).message


def test_gzip_header_then_garbage_is_a_trace_error(tmp_path):
    path = tmp_path / "garbage.csv.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    assert isinstance(_error(path), TraceError)


def test_binary_file_that_is_not_utf8_is_a_trace_error(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert "not UTF-8" in _error(path).message


def test_non_utf8_byte_is_reported_on_its_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(_simple(meta='# source: "caf\xe9"').encode("latin-1"))
    err = _error(path)
    assert err.line == 2 and "0xe9" in err.message


# --------------------------------------------------------------------------- writing errors


def test_writing_into_a_missing_folder_is_a_trace_error(tmp_path):
    with pytest.raises(TraceError) as info:
        write_trace(tmp_path / "no" / "such" / "out.csv", _sample_trace())
    assert "cannot write" in info.value.message


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.csv.gz"
    write_trace(path, _sample_trace(optional=False))
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trace_module.os, "fsync", disk_full)
    with pytest.raises(TraceError) as info:
        write_trace(path, _sample_trace())
    assert "No space left on device" in info.value.message
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.csv.gz"]


def test_writing_an_invalid_trace_is_refused(tmp_path):
    good = _sample_trace()
    cases = []
    bad_t = _sample_trace()
    bad_t.t_s[5] = bad_t.t_s[4]
    cases.append((bad_t, "strictly increasing"))
    no_edge = _sample_trace()
    del no_edge.meta["rear_edge_m"]
    cases.append((no_edge, "rear_edge_m"))
    bad_mount = _sample_trace()
    bad_mount.meta["imu_mount"] = [[1, 0, 0], [0, 1, 0], [0, 0, -1]]
    cases.append((bad_mount, "determinant -1"))
    nan_but_ok = _sample_trace()
    nan_but_ok.accel_mps2[8, 1] = np.nan
    cases.append((nan_but_ok, "imu_ok True but a NaN"))
    not_json = _sample_trace()
    not_json.meta["calibration"] = np.eye(3)
    cases.append((not_json, "cannot be written as JSON"))
    nan_t = _sample_trace()
    nan_t.t_s[0] = np.nan
    cases.append((nan_t, "finite time"))
    inf_belt = _sample_trace()
    inf_belt.belt_mps[2] = np.inf
    cases.append((inf_belt, "belt_mps[2] is infinite"))
    bad_key = _sample_trace()
    bad_key.meta["two words"] = 1
    cases.append((bad_key, "cannot be written"))
    for bad, words in cases:
        with pytest.raises(TraceError) as info:
            write_trace(tmp_path / "out.csv", bad)
        assert words in info.value.message
    assert not (tmp_path / "out.csv").exists()
    write_trace(tmp_path / "out.csv", good)  # the fixture itself is fine


@pytest.mark.parametrize(
    "t, accel, ok, belt",
    [
        (np.zeros((3, 1)), np.zeros((3, 3)), np.ones(3, bool), None),
        (np.zeros(3), np.zeros((3, 2)), np.ones(3, bool), None),
        (np.zeros(3), np.zeros((3, 3)), np.ones(4, bool), None),
        (np.zeros(3), np.zeros((3, 3)), np.ones(3, bool), np.zeros(2)),
    ],
)
def test_trace_built_with_wrong_shapes_is_refused(t, accel, ok, belt):
    with pytest.raises(ValueError):
        Trace("<memory>", {}, t, accel, np.zeros((3, 3)), ok, belt_mps=belt)


# --------------------------------------------------------------------------- bounds and streaming

from monitor.formats import trace_format as fmt  # noqa: E402
from monitor.formats.trace_reader import TraceStream  # noqa: E402


def test_a_line_past_the_cap_is_an_error_naming_it(tmp_path):
    text = _simple(rows=3).replace("0.010,0.1", "0.010," + "1" * 5000 + ".1")
    err = _error(_write(tmp_path, text))
    assert err.line == 5 and "longer than 4096 bytes" in err.message


def test_a_line_at_the_cap_is_read(tmp_path):
    row = ROW.format(t="0.010")
    padded = row.replace(",0.1,", ",0." + "0" * (fmt.MAX_LINE_BYTES - len(row)) + "1,")
    assert len(padded) == fmt.MAX_LINE_BYTES
    assert read_trace(_write(tmp_path, _simple(rows=3).replace(row, padded))).samples == 3


def test_a_gzip_bomb_of_one_line_fails_at_the_line_cap_without_inflating_it(tmp_path):
    # 64 MiB of one line compress to ~64 KiB; the reader stops after its first block
    bomb = gzip.compress(b"# treadmill-trace v1\n" + HEADER.encode() + b"\n" + b"1" * (64 << 20), 9)
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(bomb)
    import tracemalloc
    tracemalloc.start()
    err = _error(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert err.line == 3 and "longer than" in err.message
    assert peak < 8 << 20


def test_more_rows_than_the_cap_is_an_error_naming_the_first_row_past_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fmt, "MAX_ROWS", 5)
    assert read_trace(_write(tmp_path, _simple(rows=5))).samples == 5
    err = _error(_write(tmp_path, _simple(rows=6)))
    assert err.line == 2 + 6 and "more than 5 rows" in err.message


@pytest.mark.parametrize("t,is_ok", [(2.0 ** 32, True), (-(2.0 ** 32), True), (1.7e9, True),
                                     (4294967296.001, False), (1e298, False), (-1e298, False)])
def test_times_too_far_from_zero_for_the_loop_to_tick_are_refused(tmp_path, t, is_ok):
    times = [t - 0.01, t - 0.005, t] if t > 0 else [t, t + 0.005, t + 0.01]
    rows = [f"{x!r},0.1,0.2,9.81,0.01,0.02,0.03" for x in times]
    text = "# treadmill-trace v1\n" + HEADER + "\n" + "\n".join(rows) + "\n"
    if is_ok:
        assert read_trace(_write(tmp_path, text)).samples == 3
    else:
        err = _error(_write(tmp_path, text))
        assert err.line in (3, 5) and "too far from 0" in err.message and "4.295e+09" in err.message


SMALL_BLOCKS = [pytest.param(n, id=f"block{n}") for n in (7, 64, 1000)]


@pytest.mark.parametrize("block", SMALL_BLOCKS)
def test_a_file_read_in_small_blocks_reads_the_same(tmp_path, monkeypatch, block):
    path = tmp_path / "x.csv.gz"
    write_trace(path, _sample_trace(200))
    whole = read_trace(path)
    monkeypatch.setattr(trace_module, "BLOCK_BYTES", block)
    _assert_same(whole, read_trace(path))


@pytest.mark.parametrize("block", SMALL_BLOCKS)
@pytest.mark.parametrize("damage,line,words", [
    (lambda rows: rows.__setitem__(30, rows[30].replace("0.150", "0.140")), 34, "not after the previous"),
    (lambda rows: rows.__setitem__(40, ""), 44, "blank line"),
    (lambda rows: rows.__setitem__(50, rows[50] + ",9"), 54, "row has 8 cells"),
])
def test_errors_are_found_on_their_line_across_blocks(tmp_path, monkeypatch, block, damage, line, words):
    rows = [ROW.format(t=f"{0.005 * i:.3f}") for i in range(80)]
    damage(rows)
    text = "# treadmill-trace v1\n# walking: \"forward\"\n" + HEADER + "\r\n" + "\r\n".join(rows) + "\r\n\r\n"
    monkeypatch.setattr(trace_module, "BLOCK_BYTES", block)
    err = _error(_write(tmp_path, text))
    assert err.line == line and words in err.message


@pytest.mark.parametrize("block", SMALL_BLOCKS)
def test_blank_lines_at_the_end_are_fine_whatever_the_blocks(tmp_path, monkeypatch, block):
    monkeypatch.setattr(trace_module, "BLOCK_BYTES", block)
    assert read_trace(_write(tmp_path, _simple(rows=20) + "\n" * 30 + "  \n")).samples == 20


def test_a_stream_gives_its_totals_once_read(tmp_path, monkeypatch):
    monkeypatch.setattr(trace_module, "BLOCK_BYTES", 100)
    path = _write(tmp_path, _simple(rows=40, meta='# walking: "backward"'))
    with TraceStream(path) as stream:
        assert stream.meta == {"walking": "backward"} and stream.wanted[:2] == ["t", "ax"]
        chunks = list(stream.chunks())
    assert len(chunks) > 3 and sum(map(len, chunks)) == stream.samples == 40
    assert stream.first_t_s == 0.0 and stream.duration_s == pytest.approx(0.195)
